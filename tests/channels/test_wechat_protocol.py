"""WeChat's request checks, parsing and replies as pure functions (no server).
The server paths are in test_wechat.py."""

import hashlib

import pytest
from wechatpy.crypto import WeChatCrypto

from bot.channels.wechat_protocol import (
    MAX_BODY_BYTES,
    Refused,
    dedup_key,
    read_message,
    render_reply,
    split_text,
    texts_of,
    verify_url,
)

TOKEN = "unit-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx0123456789abcdef"


def signed(timestamp="1700000000", nonce="42", token=TOKEN, **extra):
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    return {"signature": signature, "timestamp": timestamp, "nonce": nonce, **extra}


def text_xml(content="hi", msg_id="1234567890123456"):
    return (
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName>"
        f"<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    ).encode()


def test_verification_returns_echostr_only_when_signed():
    assert verify_url(TOKEN, signed(echostr="abc")) == "abc"
    with pytest.raises(Refused) as refused:
        verify_url(TOKEN, signed(token="other", echostr="abc"))
    assert refused.value.status == 403


def test_sanic_style_list_arguments_are_read():
    query = {k: [v] for k, v in signed(echostr="abc").items()}
    assert verify_url(TOKEN, query) == "abc"


def test_a_plain_message_is_parsed():
    incoming = read_message(text_xml("where is my order"), signed(), TOKEN, None)
    assert incoming.message.type == "text" and incoming.message.content == "where is my order"
    assert not incoming.encrypted and dedup_key(incoming.message) == "msg:1234567890123456"


@pytest.mark.parametrize(
    "body, status",
    [
        (b"not xml", 400),
        (b"<xml><Nothing/></xml>", 400),
        (b"\xff\xfe", 400),
        (b"<!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;\">]>"
         b"<xml><MsgType>text</MsgType><FromUserName>&b;</FromUserName></xml>", 400),
        (b"<xml>" + b" " * MAX_BODY_BYTES + b"</xml>", 413),
    ],
    ids=["not-xml", "no-type", "not-utf8", "entities", "too-large"],
)
def test_unreadable_bodies_are_refused(body, status):
    with pytest.raises(Refused) as refused:
        read_message(body, signed(), TOKEN, None)
    assert refused.value.status == status


def test_safe_mode_round_trip():
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    query = signed()
    envelope = crypto.encrypt_message(text_xml("refund please").decode(), query["nonce"], query["timestamp"])
    import xmltodict

    fields = xmltodict.parse(envelope)["xml"]
    query.update(encrypt_type="aes", msg_signature=fields["MsgSignature"])
    body = f"<xml><ToUserName>gh_1</ToUserName><Encrypt>{fields['Encrypt']}</Encrypt></xml>".encode()
    incoming = read_message(body, query, TOKEN, crypto)
    assert incoming.encrypted and incoming.message.content == "refund please"
    reply = render_reply(incoming, "Here is how refunds work.", crypto)
    answer = xmltodict.parse(reply)["xml"]
    decrypted = crypto.decrypt_message(reply, answer["MsgSignature"], answer["TimeStamp"], answer["Nonce"])
    assert "<Content><![CDATA[Here is how refunds work.]]></Content>" in decrypted
    assert "<ToUserName><![CDATA[oUser]]></ToUserName>" in decrypted


def test_safe_mode_without_a_key_is_refused():
    with pytest.raises(Refused):
        read_message(b"<xml><Encrypt>x</Encrypt></xml>", signed(encrypt_type="aes"), TOKEN, None)


def test_a_reply_cannot_break_out_of_its_cdata():
    incoming = read_message(text_xml(), signed(), TOKEN, None)
    reply = render_reply(incoming, "a ]]><MsgType>image</MsgType> b", None)
    import xmltodict

    assert xmltodict.parse(reply)["xml"]["MsgType"] == "text"


def test_long_text_is_split_under_the_byte_limit_at_spaces():
    text = " ".join(["parcel"] * 1000)
    pieces = split_text(text, max_bytes=100)
    assert all(len(p.encode()) <= 100 for p in pieces)
    assert " ".join(pieces) == text


def test_multibyte_text_is_never_cut_inside_a_character():
    text = "包裹" * 2000  # 3 bytes a character, no spaces
    pieces = split_text(text, max_bytes=2048)
    assert all(len(p.encode()) <= 2048 for p in pieces)
    assert "".join(pieces) == text


def test_paragraphs_are_kept_whole_when_they_fit():
    text = "First paragraph.\n\n" + "x" * 60
    assert split_text(text, max_bytes=70) == ["First paragraph.", "x" * 60]


def test_bot_messages_become_texts():
    messages = [
        {"recipient_id": "u", "text": "Shall I connect you?", "buttons": [{"title": "Yes", "payload": "/affirm"}]},
        {"recipient_id": "u", "image": "https://help.larkspur.example/map.png"},
    ]
    assert texts_of(messages) == ["Shall I connect you?\n- Yes", "https://help.larkspur.example/map.png"]
