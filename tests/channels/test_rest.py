"""REST keeps working beside the other channels (its own suite is tests/integration/), and its
turns are stored under its own channel name, as every channel's are."""

import pytest
import requests

pytestmark = pytest.mark.integration


def test_rest_answers_and_names_its_channel(channel_servers):
    answer = requests.post(
        f"{channel_servers.url}/webhooks/rest/webhook",
        json={"sender": "rest-beside-others", "message": "how do I track a parcel"},
        timeout=30,
    )
    assert answer.status_code == 200
    assert "https://help.larkspur.example/articles/track-your-order" in answer.json()[0]["text"]
    turns = channel_servers.user_turns("rest-beside-others")
    assert [(t["text"], t["input_channel"]) for t in turns] == [("how do I track a parcel", "rest")]
