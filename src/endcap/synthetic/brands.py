"""Manufacturers (the brand partners of retail media) and their brands.

All names are invented. Each manufacturer lists the categories it sells in;
the retailer's own private label competes in every category whose spec
allows it. A manufacturer with three or more categories mostly sells category
``i`` under brand ``i % 3`` (so "Tiny Steps" is mostly the nappies brand).
"""

from __future__ import annotations

from dataclasses import dataclass

RETAILER_NAME = "Endcap Market"
# Private-label tiers: (brand, price factor against the category's price level).
PRIVATE_LABEL_BRANDS: tuple[tuple[str, float], ...] = (
    ("Endcap Market", 0.82),
    ("Endcap Basics", 0.62),
    ("Endcap Select", 1.15),
)


@dataclass(frozen=True)
class Manufacturer:
    name: str
    brands: tuple[str, str, str]
    categories: tuple[str, ...]


def _m(name: str, brands: str, categories: str) -> Manufacturer:
    b = tuple(s.strip() for s in brands.split("|"))
    if len(b) != 3:
        raise ValueError(f"{name}: three brands expected")
    return Manufacturer(name, (b[0], b[1], b[2]), tuple(s.strip() for s in categories.split("|")))


MANUFACTURERS: tuple[Manufacturer, ...] = (
    _m(
        "Nordvik Dairy Cooperative",
        "Nordvik|Fjällmjölk|Gräddhyllan",
        "Milk|Yoghurt & Fil|Butter & Spreads|Cheese",
    ),
    _m("Alpgården Foods", "Alpgården|Vita Berg|Ostkällaren", "Cheese|Yoghurt & Fil|Milk|Eggs"),
    _m(
        "Lindholm Meat Co",
        "Lindholm|Gårdens Bästa|Rökeriet",
        "Beef|Pork & Lamb|Poultry|Deli & Cold Cuts",
    ),
    _m("Havsfisk", "Havsfisk|Kustfångst|Silverfjord", "Fish & Seafood|Chilled Meals|Frozen Meals"),
    _m("Solbacka Bageri", "Solbacka|Vetekorn|Kanelhuset", "Bread|Cakes & Pastries"),
    _m("Knäckebröd Kompaniet", "Knäckeberg|Rågvalls|Frökusten", "Bread|Biscuits|Breakfast"),
    _m(
        "Grönfält Produce",
        "Grönfält|Solmogen|Trädgårdsnära",
        "Fruit|Vegetables|Salads & Herbs|Frozen Vegetables",
    ),
    _m("Tropic Harvest", "Tropic Harvest|Sunny Grove|Palmera", "Fruit|Juice|Frozen Vegetables"),
    _m(
        "Bellavita Foods",
        "Bellavita|Casa Rossa|Pastaio",
        "Pasta & Rice|Sauces & Condiments|Frozen Meals|Chilled Meals",
    ),
    _m(
        "Orient Pantry",
        "Orient Pantry|Wok Master|Spice Route",
        "World Foods|Pasta & Rice|Sauces & Condiments",
    ),
    _m("Morgonstund Cereals", "Morgonstund|Havregården|Crunchy Fields", "Breakfast|Baking"),
    _m(
        "Kryddhyllan",
        "Kryddhyllan|Smaklök|Salt & Sting",
        "Sauces & Condiments|Canned & Jarred|Baking",
    ),
    _m(
        "Frostbite Foods",
        "Frostbite|Polar Kitchen|Snöflinga",
        "Frozen Meals|Frozen Vegetables|Ice Cream",
    ),
    _m("Glassbaren", "Glassbaren|Vaniljmoln|Polarstrut", "Ice Cream"),
    _m("Bergström Kaffe", "Bergströms|Morgonrost|Espresso Nord", "Coffee & Tea"),
    _m("Teahouse Nordic", "Teahouse|Green Leaf|Chai Garden", "Coffee & Tea|Juice"),
    _m("Fizz Drinks", "Fizz|Colo|Zing", "Soft Drinks|Water"),
    _m("Källvatten", "Källvatten|Bubbel|Fjällkälla", "Water|Soft Drinks"),
    _m("Fruktpress", "Fruktpress|Pressa|Juicy Days", "Juice|Soft Drinks"),
    _m("Crispy Snacks", "Crispy|Chippa|Nut Harvest", "Crisps & Nuts|Biscuits"),
    _m(
        "Chokladfabriken",
        "Chokladfabriken|Kakao Nord|Mjölkrut",
        "Chocolate|Sweets|Pick & Mix|Cakes & Pastries",
    ),
    _m("Godisgruvan", "Godisgruvan|Lakritsriket|Sötsaker", "Pick & Mix|Sweets|Chocolate"),
    _m("Kexfabriken", "Kexfabriken|Kexbaren|Rutkex", "Biscuits|Cakes & Pastries|Breakfast"),
    _m("Rena Hem", "Rena|Skinande|Blank", "Cleaning|Laundry"),
    _m("Tvättstugan", "Tvättstugan|Vitsippa|Fräsch", "Laundry|Cleaning"),
    _m("Mjukpapper", "Mjuk|Molnet|Duna", "Paper Goods"),
    _m("Vovve & Kisse", "Vovve|Kisse|Nosbästa", "Pet Food"),
    _m("Hårlyx", "Hårlyx|Silkeslen|Volymia", "Hair Care|Skin & Body"),
    _m("Tandfrisk", "Tandfrisk|Vitleende|Mintkant", "Oral Care"),
    _m("Hudvård Norden", "Hudvård|Aloe Nord|Solskydd", "Skin & Body|Hair Care|Baby Care"),
    _m("Lillebror Baby", "Lillebror|Mjuka Steg|Gosedjur", "Nappies & Wipes|Baby Care"),
    _m("Bebisgott", "Bebisgott|Första Skeden|Mammas Mat", "Baby Food"),
    _m("Medinord Pharma", "Medinord|Värkfri|Snuvstopp", "Pain Relief|Cold & Allergy"),
    _m("Vitalis Health", "Vitalis|D-Sol|Omega Nord", "Vitamins & Supplements|Cold & Allergy"),
    _m("Plåster & Co", "Plåstret|Säkra Sår|Första Hjälpen", "First Aid|Pain Relief"),
    _m("Norrbrygd Bryggeri", "Norrbrygd|Fjällöl|Humlegården", "Beer|Soft Drinks"),
    _m("Äppelgården Cider", "Äppelgården|Päronlund|Cidermakarna", "Cider|Juice"),
    _m("Vinkällaren Import", "Vinkällaren|Sol & Druva|Bubbelbaren", "Wine"),
    _m(
        "Globe Foods Group",
        "Globe Kitchen|Tasty Time|QuickMeal",
        "Pasta & Rice|Crisps & Nuts|Frozen Meals|World Foods|Soft Drinks|Chilled Meals|Breakfast",
    ),
    _m(
        "Unified Home Brands",
        "Uniclean|Purely|Tiny Steps",
        "Cleaning|Hair Care|Nappies & Wipes|Laundry|Skin & Body|Baby Food|Oral Care",
    ),
)
