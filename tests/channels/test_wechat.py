"""WeChat, as WeChat's servers talk to the real Rasa server: requests signed (and, in safe mode,
AES-encrypted) here in the test, the customer-service API faked on localhost (`fakes.FakeWeChat`)."""

from __future__ import annotations

import hashlib
import itertools
import time
from typing import Dict, Optional, Tuple

import pytest
import requests
import xmltodict
from wechatpy.crypto import WeChatCrypto

from bot.channels.wechat_protocol import TEXT_ONLY, WELCOME
from tests.channels.fakes import wait_for

pytestmark = pytest.mark.integration

ACCOUNT = "gh_larkspur0001"  # the Official Account's own id (ToUserName)
_numbers = itertools.count(1)


def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the parts sorted and joined (token, timestamp, nonce[, encrypt])."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def message_xml(openid: str, msg_type: str = "text", msg_id: Optional[int] = None, **fields) -> str:
    """A message as WeChat pushes it to the server URL."""
    body = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    msg_id_xml = "" if msg_type == "event" else f"<MsgId>{msg_id or next(_numbers) + 24000000000000000}</MsgId>"
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[{msg_type}]]></MsgType>{body}{msg_id_xml}</xml>"
    )


class WeChatServer:
    """Sends what WeChat's servers send, signed with the account's token."""

    def __init__(self, servers) -> None:
        self.servers = servers
        self.url = f"{servers.url}/webhooks/wechat/webhook"
        secrets = servers.secrets
        self.token = secrets["WECHAT_TOKEN"]
        self.crypto = WeChatCrypto(
            self.token, secrets["WECHAT_ENCODING_AES_KEY"], secrets["WECHAT_APP_ID"]
        )

    def query(self, token: Optional[str] = None) -> Dict[str, str]:
        timestamp, nonce = str(int(time.time())), f"n{next(_numbers)}"
        return {
            "signature": sign(token or self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": "ignored-by-the-connector",
        }

    def post(self, xml: str, *, safe: bool = False, token: Optional[str] = None,
             query: Optional[Dict[str, str]] = None) -> Tuple[requests.Response, float]:
        """POSTs a message, in plain or safe (AES) mode; returns the answer and the seconds it took."""
        query = query or self.query(token)
        body = xml
        if safe:
            envelope = xmltodict.parse(self.crypto.encrypt_message(xml, query["nonce"], query["timestamp"]))
            encrypt = envelope["xml"]["Encrypt"]
            query.update(
                encrypt_type="aes",
                msg_signature=sign(token or self.token, query["timestamp"], query["nonce"], encrypt),
            )
            body = (
                f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
            )
        started = time.perf_counter()
        answer = requests.post(self.url, params=query, data=body.encode(), timeout=10)
        return answer, time.perf_counter() - started

    def reply(self, answer: requests.Response, safe: bool = False) -> Dict[str, str]:
        """The passive reply's fields; in safe mode decrypted, its signature checked."""
        assert answer.status_code == 200, answer.text
        xml = answer.text
        if safe:
            envelope = xmltodict.parse(xml)["xml"]
            xml = self.crypto.decrypt_message(
                xml, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
            )
        return xmltodict.parse(xml)["xml"]


@pytest.fixture
def wechat(channel_servers) -> WeChatServer:
    return WeChatServer(channel_servers)


def openid() -> str:
    return f"oLarkspur{next(_numbers):06d}"


def test_the_server_url_is_verified_with_the_right_signature_only(wechat):
    query = {**wechat.query(), "echostr": "6915470862339374581"}
    answer = requests.get(wechat.url, params=query, timeout=10)
    assert answer.status_code == 200 and answer.text == "6915470862339374581"
    forged = {**wechat.query(token="another-token"), "echostr": "6915470862339374581"}
    answer = requests.get(wechat.url, params=forged, timeout=10)
    assert answer.status_code == 403 and "6915470862339374581" not in answer.text


def test_a_plain_text_message_gets_a_passive_reply(wechat, channel_servers):
    user = openid()
    answer, elapsed = wechat.post(message_xml(user, Content="how do I track a parcel"))
    reply = wechat.reply(answer)
    assert elapsed < 5
    assert reply["MsgType"] == "text"
    assert reply["ToUserName"] == user and reply["FromUserName"] == ACCOUNT
    assert "https://help.larkspur.example/articles/track-your-order" in reply["Content"]
    turns = channel_servers.user_turns(user)
    assert [t["text"] for t in turns] == ["how do I track a parcel"]
    assert turns[0]["input_channel"] == "wechat"
    assert channel_servers.wechat.sent_to(user) == []


def test_an_encrypted_message_gets_an_encrypted_reply(wechat, channel_servers):
    user = openid()
    answer, _ = wechat.post(message_xml(user, Content="how do I get a refund to paypal"), safe=True)
    assert "<Encrypt>" in answer.text and "paypal" not in answer.text.lower()
    reply = wechat.reply(answer, safe=True)
    assert reply["ToUserName"] == user
    assert "help.larkspur.example/articles/" in reply["Content"]
    assert [t["text"] for t in channel_servers.user_turns(user)] == ["how do I get a refund to paypal"]


def test_bad_signatures_are_refused(wechat, channel_servers):
    user = openid()
    answer, _ = wechat.post(message_xml(user, Content="hello"), token="another-token")
    assert answer.status_code == 403
    # Safe mode: the outer signature is right, the encrypted message's signature is not.
    query = wechat.query()
    answer, _ = wechat.post(message_xml(user, Content="hello"), safe=True, query=query)
    assert answer.status_code == 200
    query = wechat.query()
    envelope = xmltodict.parse(wechat.crypto.encrypt_message(
        message_xml(user, Content="hello again"), query["nonce"], query["timestamp"]))["xml"]
    query.update(encrypt_type="aes", msg_signature="0" * 40)
    body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
    answer = requests.post(wechat.url, params=query, data=body.encode(), timeout=10)
    assert answer.status_code == 403
    assert [t["text"] for t in channel_servers.user_turns(user)] == ["hello"]


def test_xml_with_an_external_entity_is_refused_unread(wechat, channel_servers):
    user = openid()
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
        + message_xml(user, Content="PLACEHOLDER").replace("<![CDATA[PLACEHOLDER]]>", "&secret;")
    )
    answer, _ = wechat.post(xxe)
    assert answer.status_code == 400
    assert "root:" not in answer.text
    assert channel_servers.user_turns(user) == []


def test_the_same_msgid_three_times_is_one_turn_and_one_reply(wechat, channel_servers):
    # WeChat delivers again only when it did not take the earlier answer: each delivery carries
    # the same reply, so the customer sees it once, and the bot runs once.
    user = openid()
    xml = message_xml(user, Content="how long does delivery take", msg_id=24123456789012345)
    contents = [wechat.reply(wechat.post(xml)[0])["Content"] for _ in range(3)]
    assert contents[0] and contents == [contents[0]] * 3
    assert [t["text"] for t in channel_servers.user_turns(user)] == ["how long does delivery take"]
    assert channel_servers.bot_texts(user) == [contents[0]]
    assert channel_servers.wechat.sent_to(user) == []


def test_a_new_follower_is_welcomed(wechat, channel_servers):
    user = openid()
    answer, _ = wechat.post(message_xml(user, "event", Event="subscribe", EventKey=""))
    assert wechat.reply(answer)["Content"] == WELCOME
    assert channel_servers.user_turns(user) == []


@pytest.mark.parametrize(
    "msg_type, fields",
    [
        ("voice", {"MediaId": "media-1", "Format": "amr"}),
        ("image", {"PicUrl": "http://mmbiz.example/pic.jpg", "MediaId": "media-2"}),
        ("location", {"Location_X": "23.13", "Location_Y": "113.26", "Scale": "20", "Label": "x"}),
    ],
)
def test_anything_but_text_gets_a_polite_text_only(wechat, channel_servers, msg_type, fields):
    user = openid()
    answer, _ = wechat.post(message_xml(user, msg_type, **fields), safe=True)
    assert wechat.reply(answer, safe=True)["Content"] == TEXT_ONLY
    assert channel_servers.user_turns(user) == []


def test_a_slow_bot_answers_success_in_time_then_sends_through_the_api(wechat, channel_servers):
    user = openid()
    xml = message_xml(user, Content="how can a parcel be tracked")
    with channel_servers.action_server_paused():
        answer, elapsed = wechat.post(xml)
    assert answer.status_code == 200 and answer.text == "success"
    assert 3.5 < elapsed < 5  # the passive-reply window (4 s), inside WeChat's 5 s
    sent = wait_for(lambda: channel_servers.wechat.sent_to(user), timeout_s=20)
    assert len(sent) == 1 and "https://help.larkspur.example/articles/track-your-order" in sent[0]
    # WeChat's retry of that message, had our "success" been lost: no second turn, no second send.
    retry, _ = wechat.post(xml)
    assert retry.text == "success"
    assert wait_for(lambda: channel_servers.turn_finished(user), timeout_s=10)
    assert len(channel_servers.user_turns(user)) == 1
    assert channel_servers.wechat.sent_to(user) == sent


def test_an_expired_token_is_fetched_again_and_the_reply_sent_once(wechat, channel_servers):
    fake = channel_servers.wechat
    fake.expire_current_tokens_on_next_send()
    tokens_before, rejected_before = len(fake.tokens_issued), len(fake.rejected)
    user = openid()
    with channel_servers.action_server_paused():
        answer, _ = wechat.post(message_xml(user, Content="can I pay with paypal"))
    assert answer.text == "success"
    sent = wait_for(lambda: fake.sent_to(user), timeout_s=20)
    assert len(sent) == 1
    assert len(fake.rejected) == rejected_before + 1  # WeChat said 42001 once...
    assert len(fake.tokens_issued) >= tokens_before + 1  # ...and a new token was fetched
    assert not wait_for(lambda: len(fake.sent_to(user)) > 1, timeout_s=2)
