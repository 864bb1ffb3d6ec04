"""Activation: treatment members with consent at export time, sent to each channel."""
