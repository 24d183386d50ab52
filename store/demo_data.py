"""The invented people, places and products the demo data is drawn from.

Plain tables, no logic beyond filling in a postcode pattern. Every name here is made up for the
fictional shop; places are real cities with postcodes in their country's format, so the
"order number + postcode" check behaves as it would with real addresses.
"""

from __future__ import annotations

import random
from decimal import Decimal

FIRST_NAMES = (
    "Adele",
    "Amara",
    "Anika",
    "Arlo",
    "Astrid",
    "Bea",
    "Caleb",
    "Camille",
    "Dario",
    "Delia",
    "Eitan",
    "Elsa",
    "Emeka",
    "Esme",
    "Farid",
    "Freya",
    "Gideon",
    "Greta",
    "Hector",
    "Ines",
    "Ivo",
    "Jasper",
    "Joanna",
    "Kaito",
    "Keira",
    "Lars",
    "Leila",
    "Luca",
    "Mabel",
    "Marco",
    "Mila",
    "Nadia",
    "Nico",
    "Noor",
    "Odette",
    "Omar",
    "Pia",
    "Quentin",
    "Rafael",
    "Rina",
    "Rosa",
    "Sami",
    "Selma",
    "Soren",
    "Talia",
    "Tomas",
    "Uma",
    "Vera",
    "Wren",
    "Xavi",
    "Yara",
    "Yusuf",
    "Zadie",
    "Zora",
    "Milo",
    "Ingrid",
    "Teo",
    "Ruth",
    "Otto",
    "Lina",
)
LAST_NAMES = (
    "Abbott",
    "Achterberg",
    "Alder",
    "Banerjee",
    "Bellweather",
    "Brook",
    "Calloway",
    "Castell",
    "Dunmore",
    "Eklund",
    "Fairbanks",
    "Farrow",
    "Galloway",
    "Haverty",
    "Ibarra",
    "Ishikawa",
    "Jablonski",
    "Kaur",
    "Kowalczyk",
    "Larkin",
    "Lindqvist",
    "Marchetti",
    "Mbeki",
    "Moreau",
    "Nakamura",
    "Novak",
    "Oyelaran",
    "Pellegrino",
    "Quill",
    "Ramires",
    "Rasmussen",
    "Sandoval",
    "Sato",
    "Thornbury",
    "Underhill",
    "Valdez",
    "Varga",
    "Whitlock",
    "Winslow",
    "Yilmaz",
    "Zamora",
    "Ashdown",
    "Birchall",
    "Coldwell",
    "Demir",
    "Ellery",
    "Fontaine",
    "Greaves",
    "Holloway",
    "Iversen",
    "Juarez",
    "Kettering",
    "Lombardi",
    "Merriweather",
    "Nyberg",
    "Okoro",
)
STREETS = (
    "Maple",
    "Cedar",
    "Elm",
    "Willow",
    "Juniper",
    "Orchard",
    "Birch",
    "Meadow",
    "Linden",
    "Aspen",
    "Chestnut",
    "Harbor",
    "Hawthorn",
    "Sycamore",
    "Larch",
    "Rowan",
)
STREET_KINDS = ("Street", "Avenue", "Road", "Lane", "Drive", "Court")

# Postcode patterns: '#' a digit, '@' a letter of those Canada and the UK use in postcodes.
POSTCODE_LETTERS = "ABCEGHJKLMNPRSTVWXYZ"


def fill_postcode(pattern: str, rng: random.Random) -> str:
    out = []
    for ch in pattern:
        if ch == "#":
            out.append(rng.choice("0123456789"))
        elif ch == "@":
            out.append(rng.choice(POSTCODE_LETTERS))
        else:
            out.append(ch)
    return "".join(out)


# region -> (country, city, state/province code, postcode pattern)
PLACES = {
    "US": (
        ("US", "Columbus", "OH", "432##"),
        ("US", "Austin", "TX", "787##"),
        ("US", "Portland", "OR", "972##"),
        ("US", "Denver", "CO", "802##"),
        ("US", "Chicago", "IL", "606##"),
        ("US", "Atlanta", "GA", "303##"),
        ("US", "Boston", "MA", "021##"),
        ("US", "Seattle", "WA", "981##"),
        ("US", "Minneapolis", "MN", "554##"),
        ("US", "Nashville", "TN", "372##"),
        ("US", "Philadelphia", "PA", "191##"),
        ("US", "Phoenix", "AZ", "850##"),
        ("US", "Raleigh", "NC", "276##"),
        ("US", "San Diego", "CA", "921##"),
        ("US", "Brooklyn", "NY", "112##"),
        ("US", "Madison", "WI", "537##"),
        ("US", "Salt Lake City", "UT", "841##"),
        ("US", "Richmond", "VA", "232##"),
    ),
    "US_REMOTE": (
        ("US", "Anchorage", "AK", "995##"),
        ("US", "Fairbanks", "AK", "997##"),
        ("US", "Honolulu", "HI", "968##"),
        ("US", "Hilo", "HI", "967##"),
        ("PR", "San Juan", "PR", "009##"),
    ),
    "CA": (
        ("CA", "Toronto", "ON", "M5V #@#"),
        ("CA", "Ottawa", "ON", "K1P #@#"),
        ("CA", "Vancouver", "BC", "V6B #@#"),
        ("CA", "Montréal", "QC", "H2Y #@#"),
        ("CA", "Calgary", "AB", "T2P #@#"),
        ("CA", "Halifax", "NS", "B3J #@#"),
        ("CA", "Winnipeg", "MB", "R3C #@#"),
    ),
    "UK": (
        ("GB", "London", "", "SE1 #@@"),
        ("GB", "London", "", "N1 #@@"),
        ("GB", "Manchester", "", "M1 #@@"),
        ("GB", "Leeds", "", "LS1 #@@"),
        ("GB", "Bristol", "", "BS1 #@@"),
        ("GB", "Edinburgh", "", "EH1 #@@"),
        ("GB", "Cardiff", "", "CF10 #@@"),
        ("GB", "Belfast", "", "BT1 #@@"),
    ),
    "EU": (
        ("DE", "Berlin", "", "10###"),
        ("DE", "München", "", "80###"),
        ("FR", "Paris", "", "750##"),
        ("FR", "Lyon", "", "6900#"),
        ("NL", "Amsterdam", "", "10## @@"),
        ("IT", "Roma", "", "001##"),
        ("ES", "Madrid", "", "280##"),
        ("IE", "Dublin", "", "D0# @##@"),
        ("AT", "Wien", "", "1##0"),
        ("SE", "Stockholm", "", "11# ##"),
        ("PT", "Lisboa", "", "1###-###"),
        ("FI", "Helsinki", "", "00###"),
    ),
    "ROW": (
        ("AU", "Sydney", "NSW", "20##"),
        ("AU", "Melbourne", "VIC", "30##"),
        ("JP", "Tokyo", "", "1##-####"),
        ("NZ", "Auckland", "", "10##"),
        ("SG", "Singapore", "", "0#####"),
        ("CH", "Zürich", "", "80##"),
        ("NO", "Oslo", "", "0###"),
        ("MX", "Ciudad de México", "CMX", "06###"),
    ),
}

# Our distribution hubs on the way to each region (tracking event locations).
HUBS = {
    "US": ("Louisville, KY, US", "Indianapolis, IN, US", "Memphis, TN, US", "Dallas, TX, US"),
    "US_REMOTE": ("Louisville, KY, US", "Seattle, WA, US", "Anchorage, AK, US"),
    "CA": ("Buffalo, NY, US", "Mississauga, ON, CA", "Montréal, QC, CA"),
    "UK": ("New York, NY, US", "East Midlands, GB", "Heathrow, GB"),
    "EU": ("Cincinnati, OH, US", "Leipzig, DE", "Brussels, BE"),
    "ROW": ("Cincinnati, OH, US", "Hong Kong, HK", "Dubai, AE"),
}
WAREHOUSE = "Columbus, OH, US"

# (sku, name, category, price in US dollars, personalised)
CATALOG = (
    ("LK-10101", "Cast iron skillet 26 cm", "cookware", "49.00", False),
    ("LK-10102", "Enamelled Dutch oven 4.5 qt", "cookware", "119.00", False),
    ("LK-10103", "Stainless saucepan 2 qt", "cookware", "59.00", False),
    ("LK-10104", "Carbon steel wok", "cookware", "64.00", False),
    ("LK-10201", "Chef's knife 20 cm", "knives", "89.00", False),
    ("LK-10202", "Paring knife", "knives", "29.00", False),
    ("LK-10203", "Bread knife", "knives", "54.00", False),
    ("LK-10204", "Engraved chef's knife", "knives", "109.00", True),
    ("LK-10205", "Knife block, walnut", "knives", "79.00", False),
    ("LK-10301", "Wireless earbuds", "electronics_accessories", "79.00", False),
    ("LK-10302", "USB-C charging cable 2 m", "electronics_accessories", "14.00", False),
    ("LK-10303", "Bluetooth kitchen speaker", "electronics_accessories", "59.00", False),
    ("LK-10304", "Digital kitchen scale", "electronics_accessories", "34.00", False),
    ("LK-10401", "Linen tea towel set", "home", "24.00", False),
    ("LK-10402", "Wool throw, moss", "home", "89.00", False),
    ("LK-10403", "Ceramic vase, sand", "home", "39.00", False),
    ("LK-10404", "Cotton napkins, set of 4", "home", "22.00", False),
    ("LK-10405", "Bath towel, oat", "home", "34.00", False),
    ("LK-10501", "Oak cutting board", "kitchenware", "45.00", False),
    ("LK-10502", "Engraved oak cutting board", "kitchenware", "59.00", True),
    ("LK-10503", "Glass storage jars, set of 3", "kitchenware", "32.00", False),
    ("LK-10504", "Silicone spatula set", "kitchenware", "19.00", False),
    ("LK-10505", "Stoneware mixing bowl", "kitchenware", "36.00", False),
    ("LK-10506", "Pour-over kettle", "kitchenware", "69.00", False),
    ("LK-10601", "Fig & cedar candle", "candles", "28.00", False),
    ("LK-10602", "Sea salt & sage candle", "candles", "28.00", False),
    ("LK-10603", "Beeswax taper pair", "candles", "16.00", False),
    ("LK-10701", "House blend coffee beans 500 g", "coffee_tea", "18.00", False),
    ("LK-10702", "Earl grey loose tea 100 g", "coffee_tea", "12.00", False),
    ("LK-10703", "Sencha green tea 100 g", "coffee_tea", "14.00", False),
    ("LK-10801", "Castile dish soap 500 ml", "cleaning", "9.00", False),
    ("LK-10802", "Linen spray, lavender", "cleaning", "13.00", False),
    ("LK-10803", "Copper polish", "cleaning", "11.00", False),
    ("LK-10901", "Larkspur gift card $25", "gift_card", "25.00", False),
    ("LK-10902", "Larkspur gift card $50", "gift_card", "50.00", False),
    ("LK-10903", "Larkspur gift card $100", "gift_card", "100.00", False),
)
EARBUDS = "LK-10301"

# Shelf prices in other currencies: the dollar price times this, rounded to a .95 ending.
PRICE_FACTORS = {"USD": Decimal("1"), "CAD": Decimal("1.35"), "EUR": Decimal("0.95"), "GBP": Decimal("0.80")}


def price_in(usd: str, currency: str) -> Decimal:
    if currency == "USD":
        return Decimal(usd)
    whole = (Decimal(usd) * PRICE_FACTORS[currency]).quantize(Decimal("1"))
    return max(whole - Decimal("0.05"), Decimal("0.95"))


PICKUP_POINTS = {
    "US": (
        "Pike Corner News, 1501 Pike St",
        "Maple Leaf Pharmacy, 220 Main St",
        "Quick Stop Market, 87 Oak Ave",
    ),
    "CA": ("Kensington Pharmacy, 14 Baldwin St", "Corner Depot, 310 Rue Sainte-Catherine"),
}
