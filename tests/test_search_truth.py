"""The ground truth of search (tests/helpers/truth.py) reads OR, exclusions and
phrases itself, apart from the project's query parser, and folds scripts
with OpenCC, apart from the project's normalisation."""

from helpers.truth import fold, ground_truth, parse

ROWS = [
    ("a", "普京访华", "普京与习近平会谈。"),
    ("b", "金正恩", "朝鲜领导人金正恩。"),
    ("c", "哈萨克斯坦", "哈萨克斯坦总统会见普京。"),
    ("d", "哈萨克斯坦经济", "上海合作组织，峰会在阿斯塔纳举行。"),
    ("e", "習近平", "TikTok 在美國"),
    ("f", "經濟", "ＣＯＶＩＤ－１９"),
]


def truth(query):
    return ground_truth(iter(ROWS), [query])[query]


def test_shapes():
    assert parse('普京 OR 金正恩 朝鲜 -"上海 合作"') == parse('普京  OR 金正恩 朝鲜 -"上海 合作"')
    parsed = parse('普京 OR 金正恩 朝鲜 -"上海 合作"')
    assert parsed.groups == [["普京", "金正恩"], ["朝鲜"]]
    assert parsed.excluded == ["上海 合作"]
    assert parse("習近平 ＴＩＫ").groups == [["习近平"], ["tik"]]


def test_and_or_not_and_phrases():
    assert truth("普京") == {"a", "c"}
    assert truth("普京 OR 金正恩") == {"a", "b", "c"}
    assert truth("普京 OR 金正恩 朝鲜") == {"b"}
    assert truth("哈萨克斯坦 -普京") == {"d"}
    assert truth("习近平 美国") == {"e"}
    assert truth('"组织 峰会"') == {"d"}  # only punctuation between the words
    assert truth('"上海 合作"') == set()  # 上海合作 has no separator
    assert truth('"tiktok 在美国"') == {"e"}
    assert truth("-普京") == set()


def test_scripts_widths_and_case_are_folded_by_opencc_nfkc_and_casefold():
    assert fold("習近平 經濟 ＴｉｋＴｏｋ Straße") == "习近平 经济 tiktok strasse"
    assert truth("经济") == {"d", "f"} == truth("經濟")
    assert truth("covid-19") == {"f"}
