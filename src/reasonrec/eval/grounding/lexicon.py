"""Word lists the grounding rules read: what marks a user's feedback, a preference, a verdict, an evaluation.

Kept in one module so the rules stay short and the vocabulary can be audited (and extended for a new domain) in one
place. Everything is lower case; multi-word cues are matched on normalised text (see `normalise.words`).
"""

from __future__ import annotations

STOPWORDS = frozenset((
    "a", "about", "above", "additionally", "after", "again", "all", "also", "although", "an", "and",
    "another", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between",
    "both", "but", "by", "can", "could", "did", "do", "does", "down", "during", "each", "even", "for",
    "from", "further", "had", "has", "have", "having", "he", "her", "here", "him", "his", "how", "however",
    "i", "if", "in", "into", "is", "it", "it's", "its", "just", "many", "may", "me", "might", "mine", "more",
    "most", "much", "must", "my", "no", "nor", "not", "of", "off", "on", "once", "only", "or", "other",
    "our", "out", "over", "overall", "own", "same", "shall", "she", "should", "since", "so", "some", "still",
    "such", "than", "that", "the", "their", "them", "then", "there", "therefore", "these", "they", "this",
    "those", "though", "through", "thus", "to", "too", "toward", "towards", "under", "until", "up", "very",
    "was", "we", "were", "what", "when", "where", "whereas", "which", "while", "who", "whom", "whose", "why",
    "will", "with", "would", "yet", "you", "your",
))

# A user's positive or negative reaction to an item or a kind of item.
POSITIVE_FEEDBACK = (
    "liked", "likes", "like", "liking", "loved", "loves", "love", "enjoyed", "enjoys", "enjoy", "enjoying",
    "appreciated", "appreciates", "appreciate", "appreciation", "fondness", "fond", "favorite", "favourite",
    "preference", "prefer", "prefers", "preferred", "satisfied", "positive", "positively", "praised",
    "affinity", "soft spot", "drawn to", "drawn towards", "interest in", "interested in", "favor", "favors",
    "favour", "favours", "leans towards", "lean towards", "gravitate", "gravitates", "fan of",
)
NEGATIVE_FEEDBACK = (
    "disliked", "dislikes", "dislike", "disliking", "hated", "hates", "hate", "did not like", "didn't like",
    "does not like", "doesn't like", "do not like", "don't like", "negative", "negatively", "disappointed",
    "unhappy", "dissatisfied", "avoid", "avoids", "avoided", "not a fan", "less drawn", "not drawn",
    "little interest", "no interest", "disinterest", "not shown a preference", "not shown interest",
    "not interested", "not enjoy", "did not enjoy", "didn't enjoy", "does not enjoy", "doesn't enjoy",
    "complained", "discomfort", "unreliable", "poor", "problems with", "issues with", "not fond",
)
# Having the item, without a polarity.
INTERACTION_CUES = (
    "purchased", "bought", "purchase of", "purchases of", "watched", "tried", "used", "ordered",
)

# Statements that the user will (not) like the target; checked against the stated prediction.
VERDICT_POSITIVE = (
    r"will (?:likely |probably |most likely |definitely )?(?:like|love|enjoy|appreciate|be satisfied with)",
    r"(?:is|are) (?:very |highly |most )?likely to (?:like|love|enjoy|appreciate|be satisfied)",
    r"likely (?:enjoy|like|love)",
    (r"(?:a|an) (?:good|great|strong|perfect|suitable|excellent|likely) "
     r"(?:fit|match|choice|candidate|hit|winner|favorite|favourite|addition)"),
    r"aligns? (?:well )?with (?:the user's|their) (?:overall )?(?:preferences|taste|tastes)\b(?! for)",
    r"will (?:likely )?appeal to",
    r"(?:meets|match(?:es)?|fits) (?:many of |most of )?(?:the user's|their) (?:preferences|taste|tastes|criteria|needs)",
    r"the user will like", r"user is likely to like", r"likely to resonate",
    r"(?:would|will) be (?:a )?(?:good|great) (?:fit|choice|match)", r"likely (?:fit|hit|winner|favorite|candidate)",
    r"for their enjoyment", r"a safe recommendation", r"worthwhile purchase",
)
VERDICT_NEGATIVE = (
    r"will (?:likely |probably )?(?:not|n't) (?:like|love|enjoy|appreciate)", r"will (?:likely |probably )?dislike",
    r"(?:is|are) (?:un|not )likely to (?:like|enjoy|love|appreciate|resonate)",
    r"less likely to (?:resonate|appeal|enjoy|like)", r"may not (?:align|appeal|resonate|suit)",
    r"(?:not|n't) (?:a )?(?:good|great|strong|suitable) (?:fit|match|choice)",
    r"(?:does|do|will) not (?:align|appeal|fit|suit)",
    r"not (?:be )?(?:appealing|to their taste|to the user's taste)", r"the user will not like", r"poor (?:fit|match)",
    r"will be disappointed", r"not (?:likely|expected) to enjoy",
)

# Words that judge rather than describe: never checked against the rows.
EVALUATIVE = frozenset((
    "added", "addition", "amazing", "appealing", "aspect", "aspects", "attractive", "beautiful", "benefit",
    "benefits", "best", "better", "bold", "bonus", "captivating", "challenging", "characteristic",
    "characteristics", "charming", "classic", "clever", "compelling", "complex", "convenient",
    "conventional", "creative", "cultural", "cute", "dark", "darkly", "decent", "deep", "delightful",
    "depth", "desirable", "diverse", "effective", "elegant", "emotional", "emotionally", "enchanting",
    "engaging", "enjoyable", "entertaining", "excellent", "exciting", "experience", "fact", "fantastic",
    "fascinating", "feature", "features", "fine", "fresh", "fun", "functional", "good", "great", "gripping",
    "heartfelt", "heartwarming", "high", "high-quality", "hilarious", "iconic", "impressive", "innovative",
    "inspiring", "intellectual", "intense", "interesting", "intricate", "intriguing", "known",
    "light-hearted", "lighthearted", "likely", "lovely", "luxurious", "luxury", "meaningful", "memorable",
    "moving", "negative", "nice", "nuanced", "original", "overall", "perfect", "philosophical", "pleasant",
    "pleasing", "plus", "poetic", "poignant", "popular", "positive", "powerful", "practical", "premium",
    "pretty", "profound", "quality", "quirky", "realism", "realistic", "reliable", "reputable", "respected",
    "rewarding", "safe", "satisfying", "smart", "solid", "sophisticated", "specific", "straightforward",
    "strong", "stunning", "style", "stylish", "subtle", "sure", "thought-provoking", "timeless", "touching",
    "unconventional", "unforgettable", "unique", "uplifting", "valuable", "versatile", "visual", "visually",
    "well-known", "well-made", "well-produced", "whimsical", "witty", "wonderful", "worthwhile",
))

# Words about the user (who likes what) rather than about an item.
USER_WORDS = frozenset((
    "appear", "appears", "appreciate", "appreciates", "consumer", "customer", "customers", "enjoy", "enjoys",
    "he", "her", "his", "like", "liked", "likes", "look", "looks", "people", "person", "prefer",
    "preference", "preferences", "preferred", "prefers", "seem", "seems", "she", "show", "shown", "shows",
    "someone", "taste", "tastes", "tend", "tends", "their", "them", "they", "user", "user's", "users",
    "value", "valued", "values", "willing", "willingness",
))

# Nouns and verbs that frame a statement ("the film's premise", "it offers") without stating a property.
GENERIC = frozenset((
    "able", "absence", "add", "adding", "adds", "align", "alignment", "aligns", "another", "appeal",
    "appealing", "appeals", "appear", "appears", "aspect", "based", "behavior", "behaviour", "beneficial",
    "beauty", "bought", "brand", "brands", "buy", "called", "candidate", "case", "categories", "category",
    "character", "characters", "choice", "combined", "concern", "concerns", "consider", "considering", "consumer",
    "context", "criteria", "criterion", "described", "description", "designed", "development", "downside",
    "drawback", "element", "elements", "emotions", "ensure", "ensures", "ensuring", "especially",
    "experience", "explanation", "favorite", "film", "films", "fit", "focus", "focused", "focuses", "found",
    "genre", "genres", "give", "gives", "giving", "hand", "help", "helps", "history", "including",
    "ingredient", "ingredients", "intended", "intrigue", "issue", "issues", "item", "items", "kind", "kinds",
    "known", "layer", "level", "likely", "look", "lot", "made", "major", "make", "makes", "making",
    "marketed", "match", "material", "materials", "meet", "meets", "mention", "mentioned", "mentions",
    "minor", "movie", "movies", "name", "named", "narrative", "narratives", "needs", "next", "noted",
    "offer", "offering", "offers", "one", "ones", "option", "options", "part", "particularly", "past",
    "performance", "performances", "perspective", "plot", "point", "points", "potential", "potentially",
    "premise", "presence", "previous", "previously", "product", "products", "promising", "provide",
    "provides", "providing", "purchase", "purchases", "range", "rated", "real", "really", "reason",
    "reasons", "recommendation", "resonate", "resonates", "result", "results", "role", "says", "seems", "sense",
    "sequence", "sequences", "several", "showcase", "showcases", "showcasing", "significant", "simply",
    "slightly", "states", "stories", "story", "storyline", "storylines", "storytelling", "substance",
    "suggest", "suggests", "target", "theme", "themes", "thing", "things", "tone", "truly", "type",
    "typically", "use", "used", "using", "various", "viewing", "way", "well", "whole", "winner", "within",
))


# Surface forms of the MovieLens genres (where items carry genres, preferences for them are checkable).
GENRES: dict[str, tuple[str, ...]] = {
    "Action": ("action", "action-packed", "action-oriented"),
    "Adventure": ("adventure", "adventures", "adventurous"),
    "Animation": ("animation", "animated", "cartoon", "cartoons"),
    "Children's": ("children's", "childrens", "family-friendly", "family films", "family film", "family movies",
                   "kids", "children"),
    "Comedy": ("comedy", "comedies", "comedic", "humor", "humour", "humorous", "funny"),
    "Crime": ("crime",),
    "Documentary": ("documentary", "documentaries"),
    "Drama": ("drama", "dramas", "dramatic"),
    "Fantasy": ("fantasy", "fantasies"),
    "Film-Noir": ("film-noir", "film noir"),
    "Horror": ("horror", "slasher", "slashers"),
    "Musical": ("musical", "musicals"),
    "Mystery": ("mystery", "mysteries"),
    "Romance": ("romance", "romances", "romantic", "love stories", "love story"),
    "Sci-Fi": ("sci-fi", "science fiction", "scifi", "sci fi"),
    "Thriller": ("thriller", "thrillers", "suspense", "suspenseful"),
    "War": ("war",),
    "Western": ("western", "westerns"),
}

PRICE_CHEAP = (
    "affordable", "cheap", "cheaper", "cheapest", "inexpensive", "reasonably priced", "great price", "good price",
    "low price", "budget", "good value", "great value", "value for money", "cost-effective", "bargain",
)
PRICE_DEAR = (
    "expensive", "pricey", "pricier", "costly", "high price", "higher price", "overpriced", "premium price",
    "high-end", "luxury",
)

HEDGES = frozenset(("may", "might", "could", "likely", "probably", "possibly", "perhaps", "potentially", "can"))
NEGATIONS = frozenset(("not", "no", "absence", "without", "rather", "lacks", "lack", "lacking", "never", "isn't",
                       "doesn't", "don't", "won't"))

# A word of a claim whose opposite the description states (and which it does not state itself) is contradicted.
ANTONYMS: dict[str, tuple[str, ...]] = {
    "easy": ("difficult", "hard"), "easier": ("difficult", "harder"), "difficult": ("easy",),
    "cheap": ("expensive", "pricey"), "affordable": ("expensive", "pricey"), "expensive": ("cheap", "affordable"),
    "strong": ("weak",), "weak": ("strong",), "gentle": ("harsh",), "harsh": ("gentle",),
    "long-lasting": ("short-lived",), "light": ("heavy",), "heavy": ("light",), "soft": ("rough", "hard"),
    "thick": ("thin",), "thin": ("thick",),
}
