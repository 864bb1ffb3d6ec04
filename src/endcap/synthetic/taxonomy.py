"""The synthetic retailer's category tree: department > category > subcategory.

Each category carries what the catalogue generator needs to make believable
products: a typical shelf-price range (SEK; per kg for weight items), the
relative share of assortment and traffic it gets, its pack sizes, whether it
is sold by weight and whether the retailer's private label competes in it.

The table below reads ``department; category; price low-high; traffic; sizes;
flags`` with the subcategories on the indented line(s) after it. Names never
contain a comma, a double quote or a backslash, so CSV fields need no quoting.
"""

from __future__ import annotations

from dataclasses import dataclass

# Departments a retailer would mark sensitive (not usable for targeting).
SENSITIVE_DEPARTMENTS = ("Pharmacy", "Baby", "Alcohol")

_TABLE = """
Fresh Produce; Fruit; 18-90; 5; per kg; by-weight
    Apples & Pears | Bananas | Citrus | Berries | Grapes | Stone Fruit | Exotic Fruit
Fresh Produce; Vegetables; 12-80; 5; per kg; by-weight
    Potatoes | Onions & Garlic | Tomatoes | Cucumbers & Peppers | Root Vegetables
    | Cabbage & Broccoli | Mushrooms
Fresh Produce; Salads & Herbs; 15-35; 2; 65 g | 100 g | 150 g | 1 pot
    Lettuce | Salad Mixes | Fresh Herbs | Sprouts
Dairy & Chilled; Milk; 12-28; 6; 1 l | 1.5 l | 2 l
    Whole Milk | Semi-skimmed Milk | Lactose-free Milk | Oat Drink
Dairy & Chilled; Yoghurt & Fil; 14-38; 4; 500 g | 1 kg | 4 x 150 g
    Natural Yoghurt | Flavoured Yoghurt | Greek Yoghurt | Filmjölk
Dairy & Chilled; Cheese; 25-140; 4; 150 g | 250 g | 500 g | 1.1 kg
    Hard Cheese | Soft Cheese | Sliced Cheese | Cottage Cheese
Dairy & Chilled; Butter & Spreads; 25-70; 2.5; 250 g | 500 g | 600 g
    Butter | Margarine | Cooking Fats
Dairy & Chilled; Eggs; 25-60; 3; 6 pcs | 12 pcs | 15 pcs
    Free-range Eggs | Organic Eggs | Barn Eggs
Dairy & Chilled; Chilled Meals; 25-75; 2.5; 300 g | 400 g | 450 g
    Ready Meals | Fresh Pasta | Soups | Hummus & Dips
Meat & Fish; Beef; 60-260; 2.5; 500 g | 800 g | 1 kg
    Mince | Steaks | Roasts
Meat & Fish; Pork & Lamb; 35-180; 2; 140 g | 400 g | 1 kg
    Pork Chops | Bacon | Lamb
Meat & Fish; Poultry; 45-150; 3; 700 g | 900 g | 1.2 kg
    Chicken Fillets | Whole Chicken | Chicken Thighs
Meat & Fish; Fish & Seafood; 35-190; 2; 240 g | 400 g | 500 g
    Salmon | White Fish | Shrimp | Pickled Herring
Meat & Fish; Deli & Cold Cuts; 18-70; 3; 80 g | 120 g | 300 g
    Ham | Salami | Sausages | Liver Pâté
Bakery; Bread; 18-45; 5; 400 g | 500 g | 750 g | 8 pcs
    White Bread | Wholegrain Bread | Crispbread | Flatbread | Rolls
Bakery; Cakes & Pastries; 20-70; 2; 250 g | 300 g | 6 pcs
    Cinnamon Buns | Cookies | Cakes
Pantry; Pasta & Rice; 12-45; 3; 500 g | 1 kg | 2 kg
    Pasta | Rice | Noodles | Couscous & Grains
Pantry; Canned & Jarred; 9-35; 2.5; 390 g | 400 g | 500 g
    Canned Tomatoes | Beans & Pulses | Canned Fish | Pickles
Pantry; Sauces & Condiments; 15-45; 2.5; 250 ml | 500 g | 1 kg
    Ketchup & Mustard | Pasta Sauce | Dressings | Spices
Pantry; Breakfast; 20-55; 3; 375 g | 750 g | 1 kg
    Cereals | Muesli & Granola | Oats | Jam & Spreads
Pantry; Baking; 10-40; 1.5; 50 g | 1 kg | 2 kg
    Flour | Sugar | Baking Mixes | Yeast
Pantry; World Foods; 15-45; 2; 200 g | 350 g | 400 g
    Tex-Mex | Asian | Indian | Middle Eastern
Frozen; Frozen Vegetables; 15-50; 2; 500 g | 1 kg | 2.5 kg
    Peas & Corn | Mixed Vegetables | Frozen Berries
Frozen; Frozen Meals; 25-75; 2.5; 350 g | 500 g | 1 kg
    Pizza | Frozen Ready Meals | Fish Fingers | Meatballs
Frozen; Ice Cream; 20-65; 1.5; 0.5 l | 1 l | 6 pcs
    Tubs | Sticks & Cones | Frozen Desserts
Beverages; Coffee & Tea; 30-110; 3; 20 bags | 450 g | 500 g | 10 pods
    Ground Coffee | Whole Beans | Coffee Pods | Tea
Beverages; Soft Drinks; 12-35; 3.5; 33 cl | 1.5 l | 6 x 33 cl
    Cola | Flavoured Soda | Energy Drinks | Mixers
Beverages; Water; 8-25; 2; 50 cl | 1.5 l
    Still Water | Sparkling Water | Flavoured Water
Beverages; Juice; 18-45; 2.5; 1 l | 1.75 l | 25 cl
    Orange Juice | Apple Juice | Smoothies | Cordial
Snacks & Sweets; Crisps & Nuts; 15-45; 3; 150 g | 200 g | 275 g
    Potato Crisps | Tortilla Chips | Nuts | Popcorn
Snacks & Sweets; Chocolate; 12-85; 2.5; 45 g | 100 g | 200 g
    Chocolate Bars | Boxed Chocolates | Baking Chocolate
Snacks & Sweets; Pick & Mix; 60-130; 2; per kg; by-weight no-private-label
    Loose Sweets | Chocolate Pieces | Sour Sweets
Snacks & Sweets; Sweets; 10-35; 2; 15 g | 80 g | 200 g
    Bagged Sweets | Licorice | Chewing Gum
Snacks & Sweets; Biscuits; 12-35; 2; 100 g | 200 g | 400 g
    Sweet Biscuits | Crackers | Rice Cakes
Household; Cleaning; 20-110; 1.5; 500 ml | 750 ml | 40 pcs
    All-purpose Cleaner | Dishwasher Tablets | Washing-up Liquid | Sponges & Cloths
Household; Laundry; 35-140; 1.2; 750 ml | 1.5 l | 2 kg
    Detergent | Fabric Softener | Stain Removers
Household; Paper Goods; 20-95; 2; 4 rolls | 8 rolls | 16 rolls
    Toilet Paper | Kitchen Roll | Tissues
Household; Pet Food; 15-250; 1.5; 85 g | 400 g | 2 kg | 10 kg
    Dog Food | Cat Food | Cat Litter | Pet Treats
Personal Care; Hair Care; 30-90; 1; 250 ml | 400 ml
    Shampoo | Conditioner | Styling
Personal Care; Oral Care; 20-80; 1.2; 75 ml | 500 ml | 2 pcs
    Toothpaste | Toothbrushes | Mouthwash
Personal Care; Skin & Body; 25-150; 1.2; 50 ml | 200 ml | 250 ml
    Shower Gel | Deodorant | Moisturiser | Sun Care
Baby; Baby Food; 12-120; 1; 125 g | 190 g | 800 g
    Purees | Baby Cereal | Infant Formula
Baby; Nappies & Wipes; 35-180; 1; 56 pcs | 64 pcs | 3 x 72 pcs
    Nappies | Baby Wipes | Pull-ups
Baby; Baby Care; 30-120; 0.5; 200 ml | 300 ml | 1 pcs
    Baby Shampoo | Baby Lotion | Feeding Accessories
Pharmacy; Pain Relief; 25-90; 0.8; 10 pcs | 20 pcs | 30 pcs
    Paracetamol | Ibuprofen | Heat Patches
Pharmacy; Cold & Allergy; 35-110; 0.7; 10 ml | 20 pcs | 30 pcs
    Nasal Spray | Throat Lozenges | Antihistamines
Pharmacy; Vitamins & Supplements; 50-220; 0.7; 30 pcs | 60 pcs | 100 pcs
    Multivitamins | Vitamin D | Omega-3 | Probiotics
Pharmacy; First Aid; 20-80; 0.4; 20 pcs | 40 pcs | 50 ml
    Plasters | Bandages | Antiseptic
Alcohol; Beer; 12-35; 1.5; 33 cl | 50 cl | 6 x 33 cl; no-private-label
    Lager | Ale & IPA | Low-alcohol Beer
Alcohol; Cider; 14-30; 0.8; 33 cl | 50 cl | 4 x 33 cl; no-private-label
    Apple Cider | Fruit Cider | Perry
Alcohol; Wine; 35-180; 1; 75 cl | 3 l bag-in-box; no-private-label
    Red Wine | White Wine | Rosé Wine | Sparkling Wine
"""


@dataclass(frozen=True)
class CategorySpec:
    department: str
    name: str
    subcategories: tuple[str, ...]
    price: tuple[float, float]
    sizes: tuple[str, ...]
    traffic: float
    by_weight: bool = False
    private_label: bool = True


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split("|") if part.strip())


def _parse(table: str) -> tuple[CategorySpec, ...]:
    heads: list[list[str]] = []
    subs: list[str] = []
    for line in table.strip("\n").splitlines():
        if line.startswith(" "):
            subs[-1] += " " + line.strip()
        else:
            heads.append([f.strip() for f in line.split(";")])
            subs.append("")
    out = []
    for (dept, name, price, traffic, sizes, *flags), sub in zip(heads, subs, strict=True):
        low, high = (float(p) for p in price.split("-"))
        out.append(
            CategorySpec(
                department=dept,
                name=name,
                subcategories=_split(sub),
                price=(low, high),
                sizes=_split(sizes),
                traffic=float(traffic),
                by_weight="by-weight" in flags[0] if flags else False,
                private_label="no-private-label" not in flags[0] if flags else True,
            )
        )
    return tuple(out)


CATEGORIES: tuple[CategorySpec, ...] = _parse(_TABLE)
DEPARTMENTS: tuple[str, ...] = tuple(dict.fromkeys(c.department for c in CATEGORIES))

# Words that turn "brand + subcategory" into a believable product name.
VARIANTS: dict[str, tuple[str, ...]] = {
    "Fresh Produce": ("Organic", "Swedish", "Premium", "Class 1", "Imported", "Ecological"),
    "Dairy & Chilled": (
        "Original",
        "Light",
        "Organic",
        "Lactose-free",
        "Vanilla",
        "Strawberry",
        "Extra Creamy",
    ),
    "Meat & Fish": ("Swedish", "Organic", "Marinated", "Smoked", "Classic", "Lean"),
    "Bakery": ("Sourdough", "Rye", "Seeded", "Classic", "Cardamom", "Wholemeal"),
    "Pantry": ("Classic", "Organic", "Family Pack", "Wholegrain", "Mild", "Hot"),
    "Frozen": ("Classic", "Family Pack", "Organic", "Vegetarian", "Deluxe"),
    "Beverages": ("Original", "Zero Sugar", "Lemon", "Dark Roast", "Organic", "Apple"),
    "Snacks & Sweets": ("Sea Salt", "Sour Cream", "Milk", "Dark", "Mint", "Salty"),
    "Household": ("Sensitive", "Fresh", "Eco", "Lemon", "Unscented", "Big Pack"),
    "Personal Care": ("Sensitive", "Fresh", "Men", "Repair", "Natural", "Whitening"),
    "Baby": ("Stage 1", "Stage 2", "Organic", "Sensitive", "Size 4", "Size 5"),
    "Pharmacy": ("500 mg", "Forte", "Junior", "Extra", "Original", "Strong"),
    "Alcohol": ("Classic", "Premium", "Reserve", "Light", "Dry", "Organic"),
}
