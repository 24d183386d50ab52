from bot.evaluation.answer_set import Item, judge

BIRTHDAY = Item(id="x", q="how much off is the birthday discount", type="number",
                must=[["15 ?%"]], false=[r"birthday[^.]{0,40}\b10 ?%"])
SOURCE = ("\nMore in our help centre: Welcome and birthday offers > Welcome offer: 10% off - "
          "https://help.example/offers; Welcome and birthday offers > Birthday offer: 15% off - "
          "https://help.example/offers")


def test_the_source_line_states_neither_the_fact_nor_a_falsehood():
    assert judge(BIRTHDAY, "Valid for: 30 days from the date it is sent." + SOURCE, refused=False) == "missed"


def test_the_body_is_judged():
    assert judge(BIRTHDAY, "Birthday offer: 15% off the items in one order." + SOURCE, refused=False) == "correct"
    assert judge(BIRTHDAY, "The birthday code gives 10% off." + SOURCE, refused=False) == "false"
    assert judge(BIRTHDAY, "The birthday code gives 10% off.\nSource: Offers - https://x", refused=False) == "false"
