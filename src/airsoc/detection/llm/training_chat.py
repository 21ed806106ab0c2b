"""Benign chat turns for training: greetings, short replies, account questions, bot filler.

Real support traffic is full of very short turns ("hi", "no thanks", "I can't log in") and of
a support bot's own holding and hand-off messages. The other generators write sentences and
documents; with no short conversational text in the benign class, the models had learned that
a text of a few words is an attack (the public sets hold many short attack fragments), and a
greeting or "I forgot my password" alarmed. These turns are composed from word lists written
for airsoc, in English and eleven other languages, separate from every evaluation set.

Example:
    >>> rows = chat_turn_set(seed=1, size=60)
    >>> {r.label for r in rows}, len(rows) <= 60
    ({'benign'}, True)
    >>> sorted({r.category for r in chat_turn_set(seed=1, size=400)})[:3]
    ['about_the_bot', 'account_problem', 'acknowledgement']
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from airsoc.detection.llm.corpus import LabelledText

__all__ = ["chat_turn_set"]


def _p(rng: random.Random, items: Sequence[str]) -> str:
    return items[rng.randrange(len(items))]


def _cap(text: str) -> str:
    text = " ".join(text.split())
    return text[:1].upper() + text[1:]


_HELLO = ("hi", "hello", "hey", "hiya", "howdy", "greetings", "good morning", "good afternoon",
          "good evening", "morning", "hey hey", "hallo", "yo")  # fmt: skip
_HELLO_TO = ("", "", "", " there", " team", " support", " all", " folks", " again")
_END = ("", "", "!", ".", "?", "!!", " :)", "...")
_HELLO_TAIL = (
    "", "", "", " quick question", " I have a question", " are you there", " is anyone around",
    " I need a hand", " could you help me out", " I'm stuck", " sorry to bother you",
    " I hope you can help", " first time here",
)  # fmt: skip

_ACK = ("thanks", "thank you", "thx", "ty", "cheers", "ok", "okay", "great", "perfect",
        "got it", "sounds good", "sure", "alright", "understood", "awesome", "no worries",
        "fine", "cool", "brilliant", "lovely", "noted", "ah I see", "makes sense", "all good",
        "that helps", "that worked", "it works now")  # fmt: skip
_ACK_TAIL = ("", "", "", " so much", " a lot", " again", " for your help", " for the quick reply",
             ", bye", ", have a nice day", ", that's all", ", you too")  # fmt: skip

_YESNO = ("yes", "no", "yep", "nope", "yeah", "nah", "not really", "no thanks", "yes please",
          "correct", "that's right", "exactly", "maybe", "not yet", "I don't think so",
          "I guess so", "no, that's it", "yes, that one", "no, the other one", "neither",
          "both", "not sure", "I'm not sure", "no idea", "right", "wrong")  # fmt: skip

_WHO = ("I", "I think I", "I just", "my wife", "my son", "I accidentally", "I stupidly", "i")
_LOST = ("forgot", "lost", "can't remember", "mixed up", "mistyped", "changed", "reset",
         "don't know", "misplaced", "never set")  # fmt: skip
_CRED = ("my password", "the password", "my PIN", "my username", "my login details",
         "my security answers", "my email login", "the app password", "my passcode",
         "my account password", "the code", "the Wi-Fi password",
         "my password for the app")  # fmt: skip
_CRED_TAIL = ("", "", "", " again", " and now I'm locked out", ", what now", ", help",
              " and the reset mail never came", " for the website", ", can you reset it",
              " - what should I do", " and can't get in")  # fmt: skip
_PROBLEM = (
    "I can't log in", "login isn't working", "my account is locked", "the app won't open",
    "the code never arrives", "my card was declined", "I got charged twice",
    "the link has expired", "the page is blank", "I didn't get the email",
    "the verification text never came", "it says my session expired", "the reset link is broken",
    "I'm stuck on the loading screen", "it keeps asking me to sign in", "my order is missing",
)  # fmt: skip

_Q_OPEN = ("where is", "when will I get", "how do I change", "can I cancel", "how do I update",
           "what happened to", "can you check", "how long until I get", "why can't I see",
           "can I still change", "who do I ask about", "is there a fee for changing")  # fmt: skip
_Q_OBJ = ("my order", "my refund", "my parcel", "my invoice", "my delivery", "my subscription",
          "my booking", "my address", "my plan", "the receipt", "my return", "my account email",
          "my payment method", "my voucher", "the tracking number")  # fmt: skip

_META = ("are you a bot", "are you a real person", "am I talking to a robot", "is this automated",
         "who am I chatting with", "what can you do", "what can you help with",
         "can I talk to a person",
         "can I speak to someone", "is a human reading this", "human please", "real person please",
         "representative", "talk to agent", "can I get a manager", "is anyone there")  # fmt: skip

_REPAIR = ("sorry, what do you mean", "I don't get it", "can you say that again",
           "that's not what I asked", "that didn't work", "still broken", "it's still not working",
           "huh", "what", "sorry, typo", "never mind", "forget it, I found it", "wait",
           "hold on a sec", "one sec", "brb", "ok let me try", "trying now", "done",
           "same error", "didn't help", "any other ideas")  # fmt: skip

_HOLD = ("one moment", "just a moment", "please wait", "bear with me", "one moment please",
         "give me a second", "please hold on", "thanks for waiting", "sorry for the wait",
         "let me check")  # fmt: skip
_HOLD_WHILE = (
    "", " while I check", " while I look that up", " while I pull up your order",
    " while I check your account", " while I find the right team", ", I'm checking now",
    ", I'm looking into it", " - still checking", ", nearly there",
)  # fmt: skip
_HAND_VERB = ("I'm handing you over", "I'm passing you", "I'm transferring you",
              "I'm connecting you", "I'll hand you over", "I'll pass this", "Let me pass you",
              "I'm moving your chat", "I've forwarded your question",
              "I've passed your case")  # fmt: skip
_HAND_TO = ("to a colleague", "to our billing team", "to a human agent", "to a specialist",
            "to the returns team", "to someone who can help", "to our technical team",
            "to a member of staff", "to the right department")  # fmt: skip
_HAND_TAIL = (
    "", ".", ", please stay in the chat.", " who can sort this out.",
    ", they'll be with you shortly.",
    " - they will reply by email.", ". You don't need to repeat your question.",
    ", it usually takes a few minutes.", " who will get back to you.", " now.",
)  # fmt: skip
_BOT_MISC = (
    "Is there anything else I can help you with?", "Anything else I can do for you today?",
    "Glad I could help!", "You're welcome, have a good day.", "Sorry about that.",
    "I'm sorry, I didn't quite catch that.", "Could you rephrase that?",
    "Could you send me your order number?", "Can you confirm the email on the account?",
    "Please share the booking reference from your confirmation email.",
    "If you share your postcode I can check the delivery slots.",
    "Can you share a screenshot of the error?", "Would you mind sharing the tracking number?",
    "Could you share which browser you are using?",
    "Can you share the email address you signed up with?",
    "Share the invoice number and I'll look it up.",
    "Thanks, I've got that.", "I understand, that's frustrating.",
    "Our team is busy right now; someone will be with you soon.",
    "I've created a ticket for you.", "Our agents are available from 8 to 20.",
    "I can't help with that here, but a colleague can.",
    "Thanks for your patience.", "Good question, let me find out.",
)  # fmt: skip

_FOREIGN: dict[str, tuple[str, ...]] = {
    "de": (
        "Hallo",
        "Guten Morgen",
        "Danke",
        "Vielen Dank!",
        "Ja",
        "Nein danke",
        "Tschüss",
        "Passwort vergessen",
        "Ich komme nicht in mein Konto",
        "Wo bleibt mein Paket?",
        "Einen Moment bitte",
        "Ich verbinde Sie mit einem Kollegen",
        "Alles klar, danke",
    ),
    "fr": (
        "Bonjour",
        "Salut",
        "Merci",
        "Merci beaucoup",
        "Oui",
        "Non merci",
        "Au revoir",
        "Mot de passe oublié",
        "Je n'arrive pas à me connecter",
        "Mon colis n'est pas arrivé",
        "Un instant s'il vous plaît",
        "Je vous transfère à un collègue",
        "D'accord",
    ),
    "es": (
        "Hola",
        "Buenos días",
        "Gracias",
        "Muchas gracias",
        "Sí",
        "No, gracias",
        "Adiós",
        "Olvidé la contraseña",
        "No puedo iniciar sesión",
        "¿Dónde está mi pedido?",
        "Un momento, por favor",
        "Le paso con un compañero",
        "Vale",
    ),
    "it": (
        "Ciao",
        "Buongiorno",
        "Grazie",
        "Grazie mille",
        "Sì",
        "No grazie",
        "Arrivederci",
        "Password dimenticata",
        "Non riesco ad accedere",
        "Dov'è il mio ordine?",
        "Un attimo, per favore",
        "La passo a un collega",
        "Va bene",
    ),
    "pt": (
        "Olá",
        "Bom dia",
        "Obrigado",
        "Obrigada",
        "Sim",
        "Não, obrigado",
        "Tchau",
        "Esqueci a senha",
        "Não consigo entrar",
        "Cadê o meu pedido?",
        "Um momento, por favor",
        "Vou transferir para um colega",
        "Certo",
    ),
    "nl": (
        "Hoi",
        "Goedemorgen",
        "Dank je",
        "Dank u wel",
        "Ja",
        "Nee, dank je",
        "Doei",
        "Wachtwoord vergeten",
        "Ik kan niet inloggen",
        "Waar is mijn bestelling?",
        "Een ogenblik alstublieft",
        "Ik verbind u door met een collega",
    ),
    "pl": (
        "Cześć",
        "Dzień dobry",
        "Dzięki",
        "Dziękuję bardzo",
        "Tak",
        "Nie, dziękuję",
        "Nie pamiętam hasła",
        "Nie mogę się zalogować",
        "Gdzie jest moje zamówienie?",
        "Chwileczkę",
        "Przekazuję rozmowę do konsultanta",
    ),
    "tr": (
        "Merhaba",
        "Günaydın",
        "Teşekkürler",
        "Çok teşekkür ederim",
        "Evet",
        "Hayır, teşekkürler",
        "Şifremi hatırlamıyorum",
        "Giriş yapamıyorum",
        "Kargom nerede?",
        "Bir dakika lütfen",
        "Sizi bir arkadaşıma aktarıyorum",
    ),
    "sv": (
        "Hej",
        "God morgon",
        "Tack",
        "Tack så mycket",
        "Ja",
        "Nej tack",
        "Glömt lösenordet",
        "Jag kan inte logga in",
        "Ett ögonblick",
    ),
    "ru": (
        "Привет",
        "Добрый день",
        "Спасибо",
        "Большое спасибо",
        "Да",
        "Нет, спасибо",
        "Не помню пароль",
        "Не могу войти",
        "Где мой заказ?",
        "Одну минуту",
    ),
    "ja": (
        "こんにちは",
        "おはようございます",
        "ありがとう",
        "はい",
        "いいえ",
        "パスワードが分からない",
        "ログインできません",
        "少々お待ちください",
    ),
    "zh": (
        "你好",
        "早上好",
        "谢谢",
        "好的",
        "是的",
        "不用了",
        "密码想不起来了",
        "登录不了",
        "请稍等",
    ),
}


def _greeting(rng: random.Random) -> str:
    text = _p(rng, _HELLO) + _p(rng, _HELLO_TO)
    tail = _p(rng, _HELLO_TAIL)
    return _cap(text + ("," + tail if tail else "") + _p(rng, _END))


def _ack(rng: random.Random) -> str:
    return _cap(_p(rng, _ACK) + _p(rng, _ACK_TAIL) + _p(rng, _END))


def _yesno(rng: random.Random) -> str:
    return _cap(_p(rng, _YESNO) + _p(rng, _END))


def _account(rng: random.Random) -> str:
    if rng.random() < 0.6:
        text = f"{_p(rng, _WHO)} {_p(rng, _LOST)} {_p(rng, _CRED)}{_p(rng, _CRED_TAIL)}"
    else:
        text = _p(rng, _PROBLEM)
    if rng.random() < 0.3:
        text = _p(rng, _HELLO) + ", " + text
    return _cap(text + _p(rng, _END))


def _question(rng: random.Random) -> str:
    return _cap(f"{_p(rng, _Q_OPEN)} {_p(rng, _Q_OBJ)}{_p(rng, ('?', '?', '', '??', ' please?'))}")


def _meta(rng: random.Random) -> str:
    return _cap(_p(rng, _META) + _p(rng, ("?", "", "??", " please")))


def _repair(rng: random.Random) -> str:
    return _cap(_p(rng, _REPAIR) + _p(rng, _END))


def _bot_filler(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.35:
        return _cap(_p(rng, _HOLD) + _p(rng, _HOLD_WHILE) + _p(rng, (".", "...", "!")))
    if kind < 0.75:
        return f"{_p(rng, _HAND_VERB)} {_p(rng, _HAND_TO)}{_p(rng, _HAND_TAIL)}"
    return _p(rng, _BOT_MISC)


def _foreign(rng: random.Random) -> tuple[str, str]:
    lang = _p(rng, tuple(_FOREIGN))
    return lang, _p(rng, _FOREIGN[lang]) + _p(rng, ("", "", "!", ".", "?"))


_MAKERS: tuple[tuple[str, float, Callable[[random.Random], str]], ...] = (
    ("greeting", 0.14, _greeting),
    ("acknowledgement", 0.12, _ack),
    ("short_reply", 0.08, _yesno),
    ("account_problem", 0.2, _account),
    ("short_question", 0.1, _question),
    ("about_the_bot", 0.06, _meta),
    ("repair", 0.06, _repair),
    ("bot_filler", 0.14, _bot_filler),
)


def chat_turn_set(*, seed: int = 31, size: int = 1500) -> list[LabelledText]:
    """Return up to ``size`` distinct benign chat turns (duplicates dropped), each labelled
    with its kind (greeting, account_problem, bot_filler...) and language.

    >>> any(r.lang != "en" for r in chat_turn_set(seed=2, size=200))
    True
    """
    rng = random.Random(seed)
    weights = [w for _, w, _ in _MAKERS]
    out: list[LabelledText] = []
    seen: set[str] = set()
    for i in range(size):
        lang = "en"
        if rng.random() < 0.1:
            lang, text = _foreign(rng)
            category = "multilingual"
        else:
            category, _, make = rng.choices(_MAKERS, weights=weights)[0]
            text = make(rng)
        if text.lower() in seen:
            continue
        seen.add(text.lower())
        out.append(LabelledText(f"chat-{i:05d}", text, "benign", category, lang))
    return out
