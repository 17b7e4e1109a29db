"""dialogue.py — what the dictionary model is asked and how it answers.

One place for the question wordings (split into the ones used in training and the ones
held out for evaluation), the answer sentences, the system prompts and the ChatML
rendering, so that data preparation, training and evaluation cannot drift apart.

Every answer is one short sentence built from WordNet, so it can be checked against the
dictionary: evaluate.py parses the answer back into (intent, word, content).
"""

import re

# The system prompt the chat template writes when the conversation has none (see
# CHAT_TEMPLATE); most training conversations start with it.
DEFAULT_SYSTEM = ("You are a dictionary assistant. You answer questions about English words "
                  "in one short sentence, using WordNet. If you do not know a word, you say so.")
# Other system prompts a user might give: the model should still behave.
OTHER_SYSTEMS = [
    "You are a helpful assistant.",
    "You are a dictionary.",
    "Answer briefly.",
]

# ChatML, in the form of the template inside SmolLM2 files, plus a default system turn
# written as one literal (the way Qwen2 templates do it), which llmscope's renderer
# (model/chat_template.c) recognises and writes when the conversation has no system
# message.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\n" + DEFAULT_SYSTEM + "<|im_end|>\\n' }}"
    "{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

IM_START, IM_END, END_OF_TEXT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
SPECIAL_TOKENS = [END_OF_TEXT, IM_START, IM_END]  # ids 0, 1, 2

# ---- question wordings -------------------------------------------------------------
# {w} is the word. The first list of each intent is used in training; the second is never
# seen in training and is what evaluate.py asks by default. Training questions are also
# wrapped now and then in a greeting or a thanks (WRAPPERS), so that the model learns to
# find the question inside other words rather than to match whole sentences.

WORDINGS = {
    "meaning": (
        ["What does {w} mean?", "What is the meaning of {w}?", "Define {w}.",
         "What's the definition of {w}?", "Meaning of {w}?", 'What does the word "{w}" mean?',
         "Can you define {w}?", "Tell me what {w} means.", "What is the definition of the word {w}?",
         "define {w}", "{w}?", "What does {w} mean", 'Define "{w}".', "Explain {w}.",
         "What is meant by {w}?", "Give me the meaning of {w}.", "I don't understand the word {w}.",
         "What is the sense of {w}?", "What does the word {w} refer to?", "definition of {w}",
         "Explain the word {w} to me.", "Do you know what {w} means?", "{w} means what?",
         "What can {w} mean?", "Tell me the definition of {w}."],
        ["Could you explain what {w} means?", "I'd like to know the meaning of {w}.",
         "Please give me the definition of {w}.", "What do people mean by {w}?"],
    ),
    "synonym": (
        ["Give me a synonym of {w}.", "What is a synonym for {w}?", "What's another word for {w}?",
         "Synonym of {w}?", "Which word means the same as {w}?", 'Name a synonym of "{w}".',
         "synonym for {w}", "Give me another word for {w}.", "What word means the same thing as {w}?",
         "Is there a synonym of {w}?", "Tell me a synonym of {w}.", "What is another way to say {w}?",
         "Do you know a synonym for {w}?", "Name a word that means the same as {w}.",
         "Which word is a synonym of {w}?", "synonyms of {w}", "What else can I say instead of {w}?",
         "Another word for {w}?"],
        ["Can you suggest a word with the same meaning as {w}?",
         "Tell me a different word that means {w}.", "What word could replace {w}?"],
    ),
    "opposite": (
        ["What is the opposite of {w}?", "Give me an antonym of {w}.", "What's the antonym for {w}?",
         "Opposite of {w}?", 'Which word means the opposite of "{w}"?', "antonym of {w}",
         "What is an antonym of {w}?", "What is the opposite of the word {w}?",
         "Tell me the opposite of {w}.", "Do you know the opposite of {w}?",
         "Name the opposite of {w}.", "What word means the opposite of {w}?",
         "Give me the opposite of {w}.", "opposite of {w}", "Which word is an antonym of {w}?",
         "What is the antonym of {w}?"],
        ["Tell me a word that means the reverse of {w}.", "What word is contrary to {w}?",
         "Can you name an antonym for {w}?"],
    ),
    "sentence": (
        ["Use {w} in a sentence.", "Give me an example sentence with {w}.",
         "How do you use {w} in a sentence?", "Show me {w} used in a sentence.",
         "Example of {w} in a sentence?", 'Use the word "{w}" in a sentence.',
         "example sentence for {w}", "Give me an example of {w}.", "How is {w} used?",
         "Put {w} in a sentence.", "Show me an example with {w}.", "Make a sentence with {w}.",
         "Can you use {w} in a sentence?", "Give an example sentence for the word {w}.",
         "How would I use {w}?", "sentence with {w}", "Example for {w}?"],
        ["Can you write a sentence containing {w}?", "Please show how {w} is used.",
         "Could you give an example of the word {w}?"],
    ),
    "kind": (
        ["What kind of thing is {w}?", "What type of thing is {w}?", "{w} is a kind of what?",
         "What category does {w} belong to?", "What is {w} a kind of?", 'What kind of thing is "{w}"?',
         "what kind of thing is a {w}", "What is a {w}?", "A {w} is a type of what?",
         "What sort of thing is {w}?", "What class of things does {w} belong to?",
         "What is the category of {w}?", "Which kind of thing is {w}?", "{w} is a type of what?",
         "What is {w} an example of?", "What group does {w} belong to?", "kind of thing: {w}?",
         "What broader term covers {w}?"],
        ["What general class does {w} fall under?", "Tell me what sort of thing {w} is.",
         "Which broader category includes {w}?"],
    ),
}
INTENTS = list(WORDINGS)

# More training wordings, used by configurations with "extra_wordings": true (the smoke
# model predates them, and its data must stay what it was). A model that meets more
# ways of asking generalises better to wordings it never saw; the held-out wordings
# above stay held out (prepare_data.py checks that no training wording is one of them).
EXTRA_WORDINGS = {
    "meaning": ["Can you tell me what {w} means?", "I want to know what {w} means.", "Please define {w}.",
                "What's {w} mean?", "Would you define {w} for me?", "Explain the meaning of {w}.",
                "Tell me the meaning of the word {w}.", "How would you define {w}?",
                "Give me a definition of {w}.", "what is the meaning of {w}", "Meaning of the word {w}, please.",
                "So what does {w} mean?"],
    "synonym": ["What's a synonym of {w}?", "Suggest another word for {w}.", "Can you give me a synonym for {w}?",
                "I need another word for {w}.", "Which other word means {w}?", "a synonym of {w}?",
                "What word has a similar meaning to {w}?", "Say {w} another way.",
                "Give me a word similar to {w}.", "What could I say instead of {w}?"],
    "opposite": ["What's the opposite of {w}?", "Tell me an antonym of {w}.", "What means the opposite of {w}?",
                 "Can you give me an antonym for {w}?", "Name an antonym of {w}.",
                 "What would be the opposite of {w}?", "I need the opposite of {w}.", "the opposite of {w}?",
                 "Which word has the opposite meaning of {w}?", "What is contrary to {w}?"],
    "sentence": ["Write a sentence with {w}.", "Can you show me {w} in a sentence?",
                 "I need an example sentence for {w}.", "Please use {w} in a sentence.", "Show how to use {w}.",
                 "Give me a sentence that uses {w}.", "How do I use the word {w}?", "an example with {w}?",
                 "Could you use {w} in a sentence?", "Show me an example sentence with the word {w}."],
    "kind": ["What is {w} a type of?", "Which category is {w} in?", "What class does {w} belong to?",
             "Name the category of {w}.", "What kind of thing is the {w}?", "{w} belongs to which category?",
             "What is a {w} a kind of?", "Tell me the category of {w}.", "What type of thing is a {w}?",
             "Which group of things is {w} in?"],
}


def training_wordings(intent, extra):
    """The training wordings of INTENT (with the EXTRA ones when the config asks)."""
    return WORDINGS[intent][0] + (EXTRA_WORDINGS[intent] if extra else [])

# (before, after) a training question, now and then.
WRAPPERS = [("Please, ", ""), ("Hi! ", ""), ("Quick question: ", ""), ("Excuse me, ", ""),
            ("I have a question. ", ""), ("", " Thanks."), ("", " Please."), ("Hello. ", " Thank you!"),
            ("Dictionary question: ", ""), ("", " Thanks in advance.")]

# Small talk, so that a first "hello" in the terminal app gets a useful reply.
SMALL_TALK = [
    (["Hello", "Hi", "hi", "Hello!", "Hey", "Good morning"],
     "Hello! Ask me about an English word, for example: What does apple mean?"),
    (["Who are you?", "What are you?", "What can you do?", "Help", "help"],
     "I am a small dictionary assistant trained on WordNet. I can define a word, give a "
     "synonym or an opposite, use a word in a sentence, or say what kind of thing it is."),
    (["Thanks", "Thank you", "thanks!", "Thank you!"], "You're welcome."),
]

# ---- answers -------------------------------------------------------------------------
# The word is written bare after a space, as it is in most questions ("... of blorvish?"),
# so that its tokens in the answer are the same as in the question: even a small model can
# then repeat a word it has never seen. Quoted ('"blorvish"') it would be cut differently.

ARTICLE_POS = {"n": "a noun", "v": "a verb", "a": "an adjective", "r": "an adverb"}
_POS_ALT = "a noun|a verb|an adjective|an adverb"


def answer_meaning(w, pos, definition):
    return f"As {ARTICLE_POS[pos]}, {w} means {definition}."


def answer_synonym(w, syn):
    return f"A synonym of {w} is {syn}." if syn else f"I know the word {w}, but I have no synonym for it."


def answer_opposite(w, ant):
    return (f"The opposite of {w} is {ant}." if ant
            else f"I know the word {w}, but I have no opposite for it.")


def answer_sentence(w, example):
    return (f'For example: "{example}".' if example
            else f"I know the word {w}, but I have no example sentence for it.")


def answer_kind(w, hypernym, pos):
    if hypernym:
        return f"The word {w} names a kind of {hypernym}."
    return f"The word {w} is {ARTICLE_POS[pos]}, not a kind of thing."


def answer_unknown(w):
    return f"I don't know the word {w}."


# Answer forms as patterns, for the evaluation's parser: (kind, regex). The groups are
# the word (except for "sentence") and the content the dictionary can confirm.
ANSWER_PATTERNS = [
    ("meaning", re.compile(r"^As (?:" + _POS_ALT + r"), (.+?) means (.+?)\.?$")),
    ("synonym", re.compile(r"^A synonym of (.+?) is (.+)\.$")),
    ("opposite", re.compile(r"^The opposite of (.+?) is (.+)\.$")),
    ("sentence", re.compile(r'^For example: "(.+)"\.$')),
    ("kind", re.compile(r"^The word (.+?) names a kind of (.+?)\.$")),
    ("no_kind", re.compile(r"^The word (.+?) is (?:" + _POS_ALT + r"), not a kind of thing\.$")),
    ("no_synonym", re.compile(r"^I know the word (.+?), but I have no synonym for it\.$")),
    ("no_opposite", re.compile(r"^I know the word (.+?), but I have no opposite for it\.$")),
    ("no_sentence", re.compile(r"^I know the word (.+?), but I have no example sentence for it\.$")),
    ("unknown", re.compile(r"^I don't know the word (.+?)\.$")),
]


def parse_answer(text):
    """Returns (kind, groups) for an answer in one of the trained forms, else (None, ())."""
    text = text.strip()
    for kind, pattern in ANSWER_PATTERNS:
        m = pattern.match(text)
        if m:
            return kind, m.groups()
    return None, ()


# ---- ChatML --------------------------------------------------------------------------

def render_chatml(messages, add_generation_prompt):
    """What CHAT_TEMPLATE renders (and what llmscope's C renderer writes)."""
    out = []
    if messages and messages[0]["role"] != "system":
        out.append(f"{IM_START}system\n{DEFAULT_SYSTEM}{IM_END}\n")
    for m in messages:
        out.append(f"{IM_START}{m['role']}\n{m['content']}{IM_END}\n")
    if add_generation_prompt:
        out.append(f"{IM_START}assistant\n")
    return "".join(out)
