"""Word banks of the synthetic shop: per-category product words, brand syllables, sentence templates.

Every product's title and description is assembled from the bank of its category, so products of
one category share their nouns, materials, features and uses, and a sentence encoder finds them
similar for the reasons a shopper would.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The default variants of a category: colours.
COLOURS: tuple[str, ...] = ("black", "white", "grey", "navy", "red", "green", "blue", "beige", "silver", "charcoal")


@dataclass(frozen=True)
class CategoryBank:
    """The words one leaf category's products are described with.

    Attributes:
        path: the category path, `Department > ... > Leaf`.
        nouns: product types (`frying pan`); each product is one of these.
        materials: what products are made of (may be used as an adjective in a title).
        features: short selling points used in titles and tags (`nonstick`).
        uses: what the product is for, completing "made for ..." (`searing steaks`).
        sizes: sizes or capacities a product comes in, smallest first.
        variants: colours (or scents, editions) a product comes in.
        variant_name: what `variants` are called (`colour`, `scent`, `edition`).
        sentences: ready-made description sentences specific to the category.
        price_median: median price in the shop's currency.
        price_sigma: standard deviation of log price within the category.
        margin: typical gross margin (fraction of the price).
    """

    path: str
    price_median: float
    price_sigma: float
    margin: float
    nouns: tuple[str, ...]
    materials: tuple[str, ...]
    features: tuple[str, ...]
    uses: tuple[str, ...]
    sizes: tuple[str, ...]
    sentences: tuple[str, ...]
    variants: tuple[str, ...] = COLOURS
    variant_name: str = "colour"

    @property
    def department(self) -> str:
        """The first element of the path (`Home`)."""
        return self.path.split(" > ")[0]


CATEGORY_BANKS: tuple[CategoryBank, ...] = (
    CategoryBank(
        path="Home > Kitchen > Cookware",
        price_median=38.0,
        price_sigma=0.45,
        margin=0.32,
        nouns=("frying pan", "saucepan", "skillet", "wok", "stock pot", "saute pan", "griddle pan"),
        materials=("stainless steel", "cast iron", "hard-anodised aluminium", "carbon steel", "copper", "ceramic"),
        features=("nonstick", "induction-ready", "dishwasher-safe", "oven-safe", "PFOA-free", "triple-layer"),
        uses=("searing steaks", "everyday cooking", "stir-frying vegetables", "simmering sauces", "making pancakes"),
        sizes=("20 cm", "24 cm", "26 cm", "28 cm", "30 cm", "32 cm"),
        sentences=(
            "The thick base heats evenly with no hot spots.",
            "A stay-cool riveted handle gives a secure grip on the hob.",
            "Works on gas, electric, ceramic and induction hobs.",
            "The scratch-resistant cooking surface releases food easily and cleans in seconds.",
            "Oven safe up to 260 degrees for finishing dishes in the oven.",
        ),
    ),
    CategoryBank(
        path="Home > Kitchen > Coffee & Tea",
        price_median=45.0,
        price_sigma=0.7,
        margin=0.28,
        nouns=("coffee grinder", "french press", "espresso machine", "pour-over kettle", "teapot", "milk frother"),
        materials=("stainless steel", "borosilicate glass", "ceramic", "bamboo", "brushed aluminium"),
        features=("burr", "programmable", "double-walled", "gooseneck", "temperature-controlled", "cordless"),
        uses=("brewing morning coffee", "loose-leaf tea", "cold brew", "frothing milk for lattes", "espresso shots"),
        sizes=("350 ml", "600 ml", "1 L", "1.2 L", "1.5 L"),
        sentences=(
            "Brew a rich, full-bodied cup of coffee in minutes.",
            "Precise temperature control brings out the aroma of coffee beans and tea leaves.",
            "The fine mesh filter keeps grounds out of your cup.",
            "Keeps your coffee or tea hot for longer.",
            "A barista-quality brew at home, every morning.",
        ),
    ),
    CategoryBank(
        path="Home > Kitchen > Knives & Cutting Boards",
        price_median=32.0,
        price_sigma=0.6,
        margin=0.38,
        nouns=("chef's knife", "santoku knife", "bread knife", "paring knife", "knife block set", "cutting board"),
        materials=("German steel", "Damascus steel", "Japanese steel", "olive wood", "acacia wood", "walnut"),
        features=("razor-sharp", "full-tang", "forged", "ergonomic", "reversible", "hand-sharpened"),
        uses=("slicing vegetables", "carving roasts", "dicing onions", "cutting crusty bread", "meal prep"),
        sizes=("9 cm", "15 cm", "20 cm", "23 cm", "40 x 30 cm"),
        sentences=(
            "The blade holds a keen edge through months of daily chopping.",
            "A balanced handle reduces fatigue during long prep sessions.",
            "Hand wash and dry to keep the blade sharp.",
            "Precision-ground edge glides through tomatoes without tearing.",
            "A kitchen essential for home cooks and professional chefs.",
        ),
    ),
    CategoryBank(
        path="Home > Bedding",
        price_median=55.0,
        price_sigma=0.55,
        margin=0.45,
        nouns=("duvet cover set", "fitted sheet", "pillow", "weighted blanket", "mattress topper", "throw blanket"),
        materials=("Egyptian cotton", "linen", "bamboo viscose", "memory foam", "microfibre", "merino wool"),
        features=("breathable", "hypoallergenic", "cooling", "ultra-soft", "machine-washable", "wrinkle-resistant"),
        uses=(
            "a restful night's sleep",
            "hot sleepers",
            "cosy winter nights",
            "the guest bedroom",
            "allergy sufferers",
        ),
        sizes=("single", "double", "king", "super king"),
        sentences=(
            "Soft against the skin and breathable all night long.",
            "The tight weave resists pilling wash after wash.",
            "Regulates temperature so you stay cool in summer and warm in winter.",
            "Machine washable at 40 degrees for easy care.",
            "Turns your bedroom into a calm, comfortable retreat.",
        ),
    ),
    CategoryBank(
        path="Home > Lighting",
        price_median=42.0,
        price_sigma=0.6,
        margin=0.4,
        nouns=("floor lamp", "desk lamp", "pendant light", "table lamp", "LED strip light", "wall sconce"),
        materials=("brass", "matte metal", "oak", "rattan", "frosted glass", "marble"),
        features=("dimmable", "smart", "adjustable", "warm-white", "energy-saving", "touch-controlled"),
        uses=("reading in bed", "a home office", "living room ambience", "task lighting", "mood lighting"),
        sizes=("30 cm", "45 cm", "60 cm", "150 cm", "5 m"),
        variants=("black", "white", "brass", "natural", "grey", "green"),
        sentences=(
            "Warm, glare-free light for reading and relaxing.",
            "Three brightness levels set the mood in any room.",
            "Uses an energy-efficient LED bulb that lasts for years.",
            "The adjustable arm points light exactly where you need it.",
            "A statement piece that brightens modern and classic interiors.",
        ),
    ),
    CategoryBank(
        path="Electronics > Audio > Headphones",
        price_median=79.0,
        price_sigma=0.75,
        margin=0.22,
        nouns=("over-ear headphones", "wireless earbuds", "on-ear headphones", "sports earphones", "gaming headset"),
        materials=("memory foam", "aluminium", "protein leather", "silicone", "carbon fibre"),
        features=("noise-cancelling", "Bluetooth", "wireless", "sweat-resistant", "foldable", "low-latency"),
        uses=("commuting", "long flights", "gym workouts", "gaming sessions", "music production"),
        sizes=("20 h battery", "30 h battery", "40 h battery", "60 h battery"),
        sentences=(
            "Active noise cancellation blocks out traffic and engine hum.",
            "Deep bass and crisp highs bring your music to life.",
            "Fast charging gives hours of playback from a ten minute charge.",
            "Soft ear cushions stay comfortable through long listening sessions.",
            "A built-in microphone makes calls clear even outdoors.",
        ),
    ),
    CategoryBank(
        path="Electronics > Audio > Speakers",
        price_median=65.0,
        price_sigma=0.8,
        margin=0.22,
        nouns=("portable speaker", "smart speaker", "soundbar", "bookshelf speakers", "party speaker"),
        materials=("fabric-wrapped", "aluminium", "rugged rubber", "walnut veneer", "recycled plastic"),
        features=("waterproof", "Bluetooth", "voice-controlled", "Wi-Fi", "stereo", "high-fidelity"),
        uses=("beach days", "home cinema", "garden parties", "the kitchen", "vinyl listening"),
        sizes=("10 W", "20 W", "40 W", "80 W", "120 W"),
        sentences=(
            "Room-filling sound with rich bass at any volume.",
            "Pair two speakers for true stereo sound.",
            "Waterproof and dustproof, ready for the pool or the beach.",
            "Stream music over Bluetooth or Wi-Fi from your phone.",
            "Up to a full day of playtime on a single charge.",
        ),
    ),
    CategoryBank(
        path="Electronics > Computers > Keyboards & Mice",
        price_median=48.0,
        price_sigma=0.6,
        margin=0.25,
        nouns=("mechanical keyboard", "wireless mouse", "gaming mouse", "keyboard and mouse set", "trackball"),
        materials=("aluminium", "ABS plastic", "PBT keycap", "soft-touch"),
        features=("ergonomic", "RGB backlit", "wireless", "silent-click", "hot-swappable", "rechargeable"),
        uses=("office work", "competitive gaming", "programming", "long typing sessions", "travel"),
        sizes=("60%", "75%", "tenkeyless", "full-size"),
        sentences=(
            "Responsive switches register every keystroke precisely.",
            "The ergonomic shape reduces strain on the wrist during long days at the desk.",
            "Connects over Bluetooth or a USB receiver to laptops and desktops.",
            "A high-precision sensor tracks smoothly on any surface.",
            "Programmable keys and buttons speed up your workflow.",
        ),
    ),
    CategoryBank(
        path="Electronics > Phones > Phone Accessories",
        price_median=18.0,
        price_sigma=0.6,
        margin=0.5,
        nouns=("phone case", "USB-C charger", "wireless charging pad", "power bank", "screen protector", "car mount"),
        materials=("silicone", "tempered glass", "vegan leather", "polycarbonate", "aluminium"),
        features=("shockproof", "fast-charging", "MagSafe-compatible", "slim", "anti-scratch", "magnetic"),
        uses=("everyday protection", "charging on the go", "road trips", "the bedside table", "travel"),
        sizes=("10,000 mAh", "20,000 mAh", "20 W", "65 W", "6.1 inch", "6.7 inch"),
        sentences=(
            "Charges your phone to fifty percent in about thirty minutes.",
            "Raised edges protect the screen and camera from drops.",
            "Compatible with iPhone, Samsung Galaxy and Google Pixel phones.",
            "Slim enough to slip into a pocket or bag.",
            "Built-in safeguards prevent overheating and overcharging.",
        ),
    ),
    CategoryBank(
        path="Electronics > Cameras",
        price_median=240.0,
        price_sigma=0.8,
        margin=0.15,
        nouns=("mirrorless camera", "action camera", "instant camera", "camera lens", "tripod", "camera bag"),
        materials=("magnesium alloy", "carbon fibre", "weather-sealed", "aluminium"),
        features=("4K", "image-stabilised", "compact", "waterproof", "wide-angle", "lightweight"),
        uses=("travel photography", "vlogging", "wildlife shots", "underwater adventures", "portraits"),
        sizes=("24 MP", "33 MP", "50 mm", "18-55 mm", "160 cm"),
        sentences=(
            "Sharp, detailed photos even in low light.",
            "Records smooth 4K video with stabilisation built in.",
            "Fast autofocus tracks moving subjects reliably.",
            "Compact and light enough to carry all day on your travels.",
            "Share photos straight to your phone over Wi-Fi.",
        ),
    ),
    CategoryBank(
        path="Fashion > Shoes > Running Shoes",
        price_median=85.0,
        price_sigma=0.4,
        margin=0.42,
        nouns=("road running shoes", "trail running shoes", "racing flats", "walking shoes", "training shoes"),
        materials=("engineered mesh", "knit", "recycled polyester", "waterproof membrane", "suede"),
        features=("cushioned", "lightweight", "breathable", "responsive", "grippy", "wide-fit"),
        uses=("marathon training", "trail running", "daily jogs", "gym sessions", "long walks"),
        sizes=("UK 5", "UK 6", "UK 7", "UK 8", "UK 9", "UK 10", "UK 11"),
        sentences=(
            "Springy foam cushioning returns energy with every stride.",
            "A breathable upper keeps your feet cool over long distances.",
            "The grippy outsole holds on wet roads and muddy trails.",
            "A secure heel lock stops blisters on long runs.",
            "Light enough for race day, durable enough for daily training.",
        ),
    ),
    CategoryBank(
        path="Fashion > Clothing > Jackets",
        price_median=95.0,
        price_sigma=0.55,
        margin=0.48,
        nouns=("rain jacket", "puffer jacket", "denim jacket", "fleece jacket", "softshell jacket", "parka"),
        materials=("recycled nylon", "down", "denim", "polar fleece", "waxed cotton", "Gore-Tex"),
        features=("waterproof", "insulated", "packable", "windproof", "hooded", "water-repellent"),
        uses=("hiking in the rain", "winter commutes", "city walks", "weekend trips", "cold mornings"),
        sizes=("XS", "S", "M", "L", "XL", "XXL"),
        sentences=(
            "Keeps you warm and dry when the weather turns.",
            "Taped seams and a storm flap keep out wind and rain.",
            "Packs into its own pocket for travel.",
            "Zipped hand pockets keep your phone and keys safe.",
            "A relaxed fit that layers easily over jumpers.",
        ),
    ),
    CategoryBank(
        path="Fashion > Clothing > T-Shirts",
        price_median=19.0,
        price_sigma=0.45,
        margin=0.55,
        nouns=("crew-neck t-shirt", "v-neck t-shirt", "long-sleeve top", "graphic tee", "polo shirt"),
        materials=("organic cotton", "cotton jersey", "linen blend", "merino wool", "modal"),
        features=("relaxed-fit", "slim-fit", "pre-shrunk", "soft", "oversized", "quick-dry"),
        uses=("everyday wear", "summer days", "layering", "lounging at home", "casual Fridays"),
        sizes=("XS", "S", "M", "L", "XL", "XXL"),
        sentences=(
            "Soft, breathable cotton that gets better with every wash.",
            "A classic cut that pairs with jeans, shorts or chinos.",
            "Reinforced seams keep their shape wash after wash.",
            "Ethically made from certified organic cotton.",
            "An everyday essential for your wardrobe.",
        ),
    ),
    CategoryBank(
        path="Fashion > Accessories > Bags & Backpacks",
        price_median=49.0,
        price_sigma=0.6,
        margin=0.5,
        nouns=("laptop backpack", "tote bag", "crossbody bag", "travel duffel", "rolltop backpack", "belt bag"),
        materials=("recycled canvas", "full-grain leather", "ripstop nylon", "waxed canvas", "vegan leather"),
        features=("water-resistant", "anti-theft", "padded", "expandable", "lightweight", "cabin-size"),
        uses=("the daily commute", "weekend getaways", "carrying a 15-inch laptop", "school", "hand luggage"),
        sizes=("8 L", "15 L", "20 L", "30 L", "40 L"),
        sentences=(
            "A padded sleeve protects your laptop on the move.",
            "Plenty of pockets keep cables, keys and bottles organised.",
            "Padded shoulder straps spread the load comfortably.",
            "Fits under an airline seat as cabin luggage.",
            "Durable fabric shrugs off rain and scuffs.",
        ),
    ),
    CategoryBank(
        path="Fashion > Accessories > Watches",
        price_median=120.0,
        price_sigma=0.85,
        margin=0.4,
        nouns=("analogue watch", "chronograph watch", "smartwatch", "dive watch", "fitness tracker"),
        materials=("stainless steel", "titanium", "leather strap", "sapphire crystal", "silicone strap"),
        features=("automatic", "water-resistant", "solar-powered", "minimalist", "GPS", "heart-rate"),
        uses=("everyday wear", "formal occasions", "swimming", "tracking workouts", "a gift"),
        sizes=("36 mm", "38 mm", "40 mm", "42 mm", "44 mm"),
        variants=("black", "silver", "gold", "rose gold", "blue", "green"),
        sentences=(
            "A scratch-resistant crystal protects the dial.",
            "Water resistant to 100 metres for swimming and snorkelling.",
            "The clean dial is easy to read at a glance.",
            "Tracks steps, sleep and heart rate around the clock.",
            "Comes gift-boxed with a two-year warranty.",
        ),
    ),
    CategoryBank(
        path="Sports > Fitness > Yoga",
        price_median=29.0,
        price_sigma=0.5,
        margin=0.5,
        nouns=("yoga mat", "yoga block", "resistance band set", "foam roller", "yoga strap", "meditation cushion"),
        materials=("natural rubber", "cork", "TPE foam", "organic cotton", "EVA foam"),
        features=("non-slip", "extra-thick", "eco-friendly", "lightweight", "sweat-resistant", "cushioned"),
        uses=("hot yoga", "pilates", "home workouts", "stretching", "meditation"),
        sizes=("4 mm", "6 mm", "8 mm", "183 x 61 cm"),
        variants=("purple", "teal", "black", "sand", "sage green", "coral"),
        sentences=(
            "A non-slip grip keeps you steady through every pose.",
            "Cushioning protects knees and wrists on hard floors.",
            "Light enough to carry to class with the included strap.",
            "Made from sustainable, toxin-free materials.",
            "Helps improve flexibility, balance and recovery.",
        ),
    ),
    CategoryBank(
        path="Sports > Outdoor > Camping",
        price_median=75.0,
        price_sigma=0.75,
        margin=0.35,
        nouns=("dome tent", "sleeping bag", "camping stove", "headlamp", "inflatable sleeping mat", "camping chair"),
        materials=("ripstop nylon", "polyester", "aluminium", "titanium", "down"),
        features=("ultralight", "waterproof", "3-season", "compact", "quick-pitch", "insulated"),
        uses=("backpacking trips", "festival camping", "family campouts", "wild camping", "cold nights outdoors"),
        sizes=("1-person", "2-person", "4-person", "-5 C comfort", "300 lumens"),
        sentences=(
            "Pitches in minutes with colour-coded poles.",
            "Keeps you warm and dry through wind and rain.",
            "Packs down small enough to strap to a rucksack.",
            "Built for wild camping, festivals and family trips.",
            "Reliable in the outdoors, season after season.",
        ),
    ),
    CategoryBank(
        path="Sports > Cycling",
        price_median=55.0,
        price_sigma=0.9,
        margin=0.33,
        nouns=("bike helmet", "bike light set", "cycling gloves", "bike lock", "saddle bag", "bike pump"),
        materials=("aluminium", "EPS foam", "hardened steel", "carbon fibre", "padded lycra"),
        features=("lightweight", "USB-rechargeable", "aerodynamic", "high-visibility", "anti-theft", "ventilated"),
        uses=("city commuting", "road cycling", "mountain biking", "night rides", "bikepacking"),
        sizes=("S", "M", "L", "800 lumens", "160 psi"),
        sentences=(
            "Stay safe and visible on dark commutes.",
            "Vents keep your head cool on long climbs.",
            "Fits most road, hybrid and mountain bikes.",
            "Tough enough for daily riding in all weather.",
            "Quick-release mount fits on and off in seconds.",
        ),
    ),
    CategoryBank(
        path="Beauty > Skincare",
        price_median=24.0,
        price_sigma=0.6,
        margin=0.6,
        nouns=("face moisturiser", "vitamin C serum", "gentle cleanser", "sunscreen", "night cream", "eye cream"),
        materials=("hyaluronic acid", "niacinamide", "retinol", "aloe vera", "shea butter", "ceramide"),
        features=("fragrance-free", "vegan", "dermatologist-tested", "oil-free", "SPF 50", "hydrating"),
        uses=("dry skin", "sensitive skin", "oily skin", "fine lines", "daily sun protection"),
        sizes=("15 ml", "30 ml", "50 ml", "100 ml", "200 ml"),
        variants=("unscented", "rose", "citrus", "green tea", "lavender", "cucumber"),
        variant_name="scent",
        sentences=(
            "Hydrates deeply and leaves skin soft and smooth.",
            "Absorbs quickly without a greasy finish.",
            "Gentle enough for sensitive skin, morning and night.",
            "Helps even out skin tone and restore radiance.",
            "Free from parabens and artificial colours.",
        ),
    ),
    CategoryBank(
        path="Beauty > Hair Care",
        price_median=16.0,
        price_sigma=0.6,
        margin=0.6,
        nouns=("shampoo", "conditioner", "hair mask", "hair oil", "hair dryer", "straightener"),
        materials=("argan oil", "keratin", "coconut oil", "tea tree", "ceramic", "tourmaline"),
        features=("sulphate-free", "volumising", "ionic", "frizz-control", "colour-safe", "nourishing"),
        uses=("curly hair", "fine hair", "damaged hair", "colour-treated hair", "quick styling"),
        sizes=("250 ml", "400 ml", "1 L", "1800 W", "2200 W"),
        variants=("coconut", "unscented", "mint", "vanilla", "citrus", "rosemary"),
        variant_name="scent",
        sentences=(
            "Leaves hair soft, shiny and easy to manage.",
            "Repairs split ends and tames frizz.",
            "Gentle on the scalp and safe for colour-treated hair.",
            "Styles quickly while protecting hair from heat damage.",
            "Salon results at home in a few minutes.",
        ),
    ),
    CategoryBank(
        path="Toys > Building Sets",
        price_median=35.0,
        price_sigma=0.7,
        margin=0.4,
        nouns=("building set", "marble run", "magnetic tiles set", "robot kit", "wooden train set", "castle set"),
        materials=("wooden", "plastic brick", "magnetic", "recycled plastic"),
        features=("STEM", "creative", "motorised", "compatible", "educational", "starter"),
        uses=("ages 4 and up", "ages 8 and up", "rainy afternoons", "family building", "learning to code"),
        sizes=("120 pieces", "250 pieces", "500 pieces", "1000 pieces"),
        variants=("classic", "deluxe", "starter", "city", "space", "jungle"),
        variant_name="edition",
        sentences=(
            "Sparks creativity and problem-solving through open-ended play.",
            "Pieces click together easily for small hands.",
            "Combine with other sets to build bigger worlds.",
            "Step-by-step instructions for three different models.",
            "Hours of screen-free fun for the whole family.",
        ),
    ),
    CategoryBank(
        path="Toys > Board Games",
        price_median=28.0,
        price_sigma=0.45,
        margin=0.38,
        nouns=("strategy game", "card game", "cooperative game", "party game", "jigsaw puzzle", "word game"),
        materials=("wooden", "cardboard", "illustrated", "linen-finish"),
        features=("family", "two-player", "award-winning", "quick-play", "fantasy", "educational"),
        uses=("game night", "families with kids", "parties", "travelling", "two players"),
        sizes=("2-4 players", "2-6 players", "3-8 players", "500 pieces", "1000 pieces"),
        variants=("classic", "travel", "deluxe", "anniversary", "junior"),
        variant_name="edition",
        sentences=(
            "Easy to learn in ten minutes, with plenty of strategy to master.",
            "Each round plays in about thirty minutes.",
            "Beautifully illustrated cards and sturdy wooden pieces.",
            "Brings friends and family together around the table.",
            "A favourite for game nights and holidays.",
        ),
    ),
    CategoryBank(
        path="Garden > Tools",
        price_median=34.0,
        price_sigma=0.7,
        margin=0.36,
        nouns=("pruning shears", "garden hose", "hand trowel", "leaf rake", "watering can", "cordless hedge trimmer"),
        materials=("carbon steel", "stainless steel", "ash wood", "fibreglass", "galvanised steel"),
        features=("ergonomic", "rust-resistant", "expandable", "heavy-duty", "cordless", "telescopic"),
        uses=("pruning roses", "planting bulbs", "watering the garden", "clearing leaves", "trimming hedges"),
        sizes=("20 cm", "30 m", "5 L", "50 cm", "18 V"),
        variants=("green", "black", "orange", "grey", "red"),
        sentences=(
            "Makes light work of pruning, planting and weeding.",
            "A comfortable grip reduces hand strain during long jobs.",
            "Rust-resistant steel lasts for many seasons outdoors.",
            "Built for allotments, borders and balcony gardens.",
            "Tough, reliable tools for keen gardeners.",
        ),
    ),
    CategoryBank(
        path="Pets > Dog Supplies",
        price_median=26.0,
        price_sigma=0.6,
        margin=0.45,
        nouns=("dog bed", "dog harness", "chew toy", "dog lead", "feeding bowl", "dog coat"),
        materials=("orthopaedic foam", "natural rubber", "padded nylon", "stainless steel", "waxed cotton"),
        features=("washable", "reflective", "durable", "non-slip", "no-pull", "waterproof"),
        uses=("puppies", "large breeds", "long walks", "heavy chewers", "senior dogs"),
        sizes=("S", "M", "L", "XL"),
        sentences=(
            "Tough enough for enthusiastic chewers.",
            "Reflective stitching keeps your dog visible on evening walks.",
            "Supports joints and helps older dogs sleep comfortably.",
            "Machine washable cover for easy cleaning.",
            "Adjustable fit for comfort on every walk.",
        ),
    ),
)
"""Every leaf category the shop can sell, in a fixed order (departments grouped)."""

#: Syllables brand names are built from: one opening and one ending each.
BRAND_OPENINGS: tuple[str, ...] = (
    "Nor", "Vel", "Kai", "Astr", "Bel", "Cor", "Del", "Fen", "Hal", "Lum", "Mar", "Ost", "Pol", "Quin",
    "Ros", "Sol", "Tal", "Ul", "Ver", "Wyn", "Zen", "Brin", "Cal", "Dun", "Elm", "Gar", "Kest", "Mor",
)  # fmt: skip
BRAND_ENDINGS: tuple[str, ...] = (
    "vik", "ora", "wood", "line", "tek", "ware", "co", "mark", "field", "ex", "stone", "ly", "gate", "den",
    "ion", "arc", "haven", "brook", "ford", "io", "ara", "ette", "moor", "craft",
)  # fmt: skip

#: Openings of the first description sentence; `{article}` is chosen for the next word.
LEAD_TEMPLATES: tuple[str, ...] = (
    "{Article} {feature} {material} {noun} from {brand}, made for {use}.",
    "Meet the {brand} {noun}: {article} {feature} {material} design for {use}.",
    "This {feature} {noun} in {material} is ideal for {use}.",
)
#: The closing sentence naming the variant and size.
CLOSING_TEMPLATES: tuple[str, ...] = (
    "Available in {variant}, size {size}.",
    "This listing is the {size} version in {variant}.",
    "{Variant_name}: {variant}. Size: {size}.",
)
#: A sentence naming a second use of the product.
USE_TEMPLATES: tuple[str, ...] = (
    "Also great for {use}.",
    "Customers love it for {use} too.",
    "A smart choice for {use} as well.",
)
