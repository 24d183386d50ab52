"""What WeChat's servers send an Official Account's server URL, and what they accept back.

Pure functions over wechatpy, which does the signature checks, the XML parsing, the AES crypto
("safe mode") and the passive-reply XML; nothing here writes any of that by hand. No Rasa, no
Sanic and no network, so the tests can call these directly.

  GET  ?signature&timestamp&nonce&echostr      -> echostr, when the signature is right
  POST ?signature&timestamp&nonce[&encrypt_type=aes&msg_signature]  body: XML (plain or encrypted)
       -> a passive reply (XML, encrypted when the request was) or "success"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

# WeChat's messages are a few hundred bytes; an encrypted one about twice that.
MAX_BODY_BYTES = 64 * 1024
# WeChat cuts a text message after 2048 bytes (passive replies and the customer-service API alike).
MAX_TEXT_BYTES = 2048
# Answer "success" (or an empty body) and WeChat neither shows anything nor retries.
SUCCESS = "success"

# What the account answers without asking the bot.
WELCOME = (
    "Welcome to Larkspur! I'm the support assistant. Ask me about orders, delivery, returns and "
    "refunds, payments and invoices, or your account. Write \"human\" at any time to reach a "
    "person from our team."
)
TEXT_ONLY = (
    "Sorry, I can only read text messages for now. Please type your question, for example "
    "\"where is my order #123456\", or write \"human\" to reach a person from our team."
)


class Refused(Exception):
    """The request is not one we answer; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Incoming:
    message: Any  # a wechatpy message or event (TextMessage, SubscribeEvent, VoiceMessage, ...)
    encrypted: bool  # safe mode: the reply must be encrypted too
    nonce: str
    timestamp: str


def _arg(query: Mapping[str, Any], name: str) -> str:
    """One query parameter as a string ('' when absent); Sanic's args hold lists."""
    value = query.get(name)
    if isinstance(value, list):
        value = value[0] if value else ""
    return value if isinstance(value, str) else ""


def _check_signature(token: str, query: Mapping[str, Any]) -> None:
    signature, timestamp, nonce = (_arg(query, k) for k in ("signature", "timestamp", "nonce"))
    if not (signature and timestamp and nonce):
        raise Refused(403, "signature, timestamp and nonce are required")
    try:
        check_signature(token, signature, timestamp, nonce)
    except InvalidSignatureException:
        raise Refused(403, "bad signature") from None


def verify_url(token: str, query: Mapping[str, Any]) -> str:
    """The GET WeChat sends when the server URL is saved: echostr back if the signature is right."""
    _check_signature(token, query)
    echostr = _arg(query, "echostr")
    if not echostr:
        raise Refused(400, "echostr is required")
    return echostr


def read_message(
    body: bytes, query: Mapping[str, Any], token: str, crypto: Optional[WeChatCrypto]
) -> Incoming:
    """Checks and decodes a POSTed message; raises Refused when it is not from WeChat or unreadable.

    The XML parser (xmltodict on expat, through wechatpy) refuses entity declarations, so an
    external entity or an entity bomb is an error here, never expanded.
    """
    if len(body) > MAX_BODY_BYTES:
        raise Refused(413, "the message is too large")
    _check_signature(token, query)
    encrypted = _arg(query, "encrypt_type") == "aes"
    nonce, timestamp = _arg(query, "nonce"), _arg(query, "timestamp")
    try:
        xml = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the body is not UTF-8") from None
    if encrypted:
        if crypto is None:
            raise Refused(400, "safe mode needs encoding_aes_key in credentials.yml")
        try:
            xml = crypto.decrypt_message(xml, _arg(query, "msg_signature"), timestamp, nonce)
        except InvalidSignatureException:
            raise Refused(403, "bad msg_signature") from None
        except Exception:  # bad base64, padding, XML or app id: not a message from WeChat
            raise Refused(400, "the encrypted message cannot be read") from None
    try:
        message = parse_message(xml)
    except Exception:  # ExpatError, entities refused, no <xml> root, no MsgType
        raise Refused(400, "the message is not WeChat XML") from None
    if message is None or not message.source:
        raise Refused(400, "the message is not WeChat XML")
    return Incoming(message, encrypted, nonce, timestamp)


def dedup_key(message: Any) -> str:
    """What makes a delivery unique: MsgId for messages, sender + CreateTime for events (WeChat's advice)."""
    if message.type == "event" or not message.id:
        return f"event:{message.source}:{message.time}"
    return f"msg:{message.id}"


def render_reply(incoming: Incoming, text: str, crypto: Optional[WeChatCrypto]) -> str:
    """The passive text reply to `incoming`, encrypted when the request was."""
    # Inside CDATA nothing can be escaped: "]]>" would end the section and break the XML.
    content = text.replace("]]>", "]] >")
    xml = TextReply(message=incoming.message, content=content).render()
    if incoming.encrypted and crypto is not None:
        return crypto.encrypt_message(xml, incoming.nonce, incoming.timestamp)
    return xml


def split_text(text: str, max_bytes: int = MAX_TEXT_BYTES) -> List[str]:
    """`text` in pieces of at most `max_bytes` UTF-8 bytes, cut at a paragraph, line or space.

    A piece is never cut inside a character; a word longer than the limit is cut where it must be.
    """
    text = text.strip()
    pieces: List[str] = []
    while len(text.encode("utf-8")) > max_bytes:
        head = text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")
        cut = len(head)  # no good place: cut the word
        for separator in ("\n\n", "\n", " "):  # the last paragraph end that fits, else line...
            at = head.rfind(separator)
            if at > 0:
                cut = at
                break
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def texts_of(bot_messages: List[Dict[str, Any]]) -> List[str]:
    """The bot's messages (as Rasa's CollectingOutputChannel holds them) as WeChat text messages.

    WeChat text has no buttons: their titles are listed under the text, so a customer can type one.
    An image becomes its link.
    """
    texts: List[str] = []
    for message in bot_messages:
        lines = [message["text"]] if message.get("text") else []
        for button in message.get("buttons") or []:
            if button.get("title"):
                lines.append(f"- {button['title']}")
        if message.get("image"):
            lines.append(str(message["image"]))
        if lines:
            texts.extend(split_text("\n".join(lines)))
    return texts
