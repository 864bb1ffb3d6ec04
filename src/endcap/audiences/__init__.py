"""Audiences: rule-based selections of profiles, sized before they are saved.

A rule is JSON (:mod:`endcap.audiences.rules` describes the grammar). It is
validated with JSON-pointer errors, its catalog names are resolved and checked
against the retailer's sensitive categories (:mod:`endcap.audiences.references`),
and it is compiled to one parameterised SQL statement over the trait tables
(:mod:`endcap.audiences.compile`). :func:`endcap.audiences.estimate.estimate_size`
does all of that and counts.
"""
