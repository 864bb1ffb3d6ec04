"""Swedish geography and names for stores, postal codes and e-mail addresses."""

from __future__ import annotations

from dataclasses import dataclass

# Swedish mobile prefixes (after the trunk 0 or +46); phones mix national and
# international forms, so only E.164 normalisation makes them match.
MOBILE_PREFIXES = ("70", "72", "73", "76", "79")


@dataclass(frozen=True)
class Region:
    name: str
    cities: tuple[str, ...]
    postal_prefixes: tuple[int, ...]  # first two digits of the region's postal codes
    population: float  # relative weight


def _r(name: str, cities: str, prefixes: tuple[int, ...], population: float) -> Region:
    return Region(name, tuple(c.strip() for c in cities.split("|")), prefixes, population)


REGIONS: tuple[Region, ...] = (
    _r("Stockholm", "Stockholm|Solna|Nacka|Södertälje|Täby|Huddinge", tuple(range(10, 20)), 24.0),
    _r("Västra Götaland", "Göteborg|Borås|Trollhättan|Skövde", (41, 42, 43, 44, 50, 54), 17.0),
    _r("Skåne", "Malmö|Helsingborg|Lund|Kristianstad", tuple(range(20, 30)), 13.0),
    _r("Uppsala", "Uppsala|Enköping", (74, 75), 4.0),
    _r("Östergötland", "Linköping|Norrköping|Motala", (58, 59, 60, 61), 4.5),
    _r("Jönköping", "Jönköping|Värnamo", (55, 56, 57), 3.5),
    _r("Halland", "Halmstad|Varberg|Kungsbacka", (30, 31, 43), 3.2),
    _r("Örebro", "Örebro|Karlskoga", (69, 70), 3.0),
    _r("Västmanland", "Västerås|Sala", (72, 73), 2.7),
    _r("Dalarna", "Falun|Borlänge", (78, 79), 2.7),
    _r("Gävleborg", "Gävle|Sandviken|Hudiksvall", (80, 81, 82), 2.8),
    _r("Västerbotten", "Umeå|Skellefteå", (90, 91, 93), 2.6),
    _r("Norrbotten", "Luleå|Kiruna|Piteå", (94, 95, 97, 98), 2.4),
)

DISTRICTS = ("Centrum", "Norr", "Syd", "Öst", "Väst", "Hamnen", "Station", "Torget", "Parken")

# Lower-case ASCII spellings, as people type them into e-mail addresses.
FIRST_NAMES = (
    "anna", "eva", "maria", "karin", "sara", "lena", "emma", "kerstin", "ingrid", "marie",
    "malin", "jenny", "hanna", "linda", "elin", "sofia", "ida", "julia", "johanna", "asa",
    "erik", "lars", "karl", "anders", "johan", "per", "nils", "jan", "carl", "mikael",
    "hans", "peter", "olof", "lennart", "gunnar", "fredrik", "daniel", "oskar", "jonas", "ali",
    "mohammed", "sven", "bengt", "magnus", "henrik", "mattias", "david", "alexander", "viktor",
    "elsa", "alice", "maja", "ebba", "wilma", "liam", "noah", "hugo", "william", "lucas",
)  # fmt: skip
LAST_NAMES = (
    "andersson", "johansson", "karlsson", "nilsson", "eriksson", "larsson", "olsson",
    "persson", "svensson", "gustafsson", "pettersson", "jonsson", "jansson", "hansson",
    "bengtsson", "isaksson", "lindberg", "jakobsson", "magnusson", "olofsson", "lindstrom",
    "lindqvist", "lindgren", "berg", "axelsson", "bergstrom", "lundberg", "lind", "lundgren",
    "lundqvist", "mattsson", "berglund", "fredriksson", "sandberg", "henriksson", "forsberg",
    "sjoberg", "wallin", "ali", "engstrom", "mohamed", "eklund", "danielsson", "lundin",
    "hakansson", "bjork", "bergman", "gunnarsson", "holm", "wikstrom", "samuelsson",
)  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")

# Addresses typed at the till or shared by a whole family: many customer records
# carry them, and an identity resolver must not merge on them.
SHARED_EMAILS = (
    "kund@example.com",
    "familjen.andersson@example.com",
    "ingen@example.net",
    "familjen.nilsson@example.org",
    "noreply@example.com",
    "familjen.karlsson@example.com",
    "butiken@example.org",
    "familjen.svensson@example.net",
    "na@example.com",
    "familjen.larsson@example.com",
)
