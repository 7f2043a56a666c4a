"""Hedges: the words around a triage phrase that make it less than a plain statement.

A phrase such as "퍼졌" (it spread) or "kill myself" is a statement only if nothing near it says
otherwise. The cues found here are looked for in the phrase's own clause (sentence punctuation,
"but", "근데" end one), in the places each language puts them (NegEx-style):
- English puts them before the phrase ("I don't know if it's been shared", "he hasn't posted
  anything"), within the clause and after the last "and"/"but"/"because";
- Korean attaches them after it ("퍼졌는지는 몰라요", "유포되지는 않았어요", "올라왔었는데"),
  with a few before ("안 올라왔어요", "혹시").
What each cue does to each signal (keep, possible, drop) is decided by the caller
(hotline.domain.triage); this module only finds them. Pure functions over normalised text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from hotline.domain.phrases import Hit


class Cue(StrEnum):
    NEGATED = "negated"      # "hasn't", "아직 안", "미성년자 아니에요"
    UNSURE = "unsure"        # "don't know if", "might", "퍼졌는지는 몰라요", a yes/no question
    FEARED = "feared"        # "what if", "scared he'll", "유포될까 봐"
    THREATENED = "threatened"  # only threatened: "he says he'll post my address", "올린다고"
    PAST = "past"            # over: "years ago", "used to", "올라왔었는데", "중학생 때"
    REMOVED = "removed"      # the text says the content was taken down
    SELF = "self"            # the writer did it: "I posted", "제가 올렸"
    IF = "if"                # a condition, not an event: "if my photos get posted", "유포되면"
    GENERAL = "general"      # news or a general question, not the writer's own case


@dataclass(frozen=True)
class Clause:
    text: str      # normalised
    squeezed: str  # the same without spaces (where Korean phrases are found)
    question: bool  # ended with "?"


# Clause ends: sentence punctuation, a comma that is not inside a number ("500,000"), and
# words that start a new statement. Periods inside numbers ("1.5") are kept.
_SPLIT = re.compile(r"(\?+|[!。…;]+|(?<!\d)\.+|\.+(?!\d)|(?<!\d),|,(?!\d)"
                    r"| but | though | although | 근데 | 그런데 | 하지만 )")


def clauses(text: str) -> list[Clause]:
    """The clauses of one normalised text, in order."""
    parts = _SPLIT.split(text)
    out = []
    for i in range(0, len(parts), 2):
        body = parts[i].strip()
        if body:
            end = parts[i + 1] if i + 1 < len(parts) else ""
            out.append(Clause(body, body.replace(" ", ""), "?" in end))
    return out


# --- English: before the phrase -------------------------------------------------------------------

# A cue before one of these does not reach a phrase after it ("he didn't listen and posted it").
_EN_SCOPE_END = re.compile(r".*\b(?:and|but|so|because|cause|cuz|since|then|after|although|"
                           r"though|now)\b\W*", re.DOTALL)
_EN_UNSURE = re.compile(
    r"\b(?:(?:know|sure|idea|tell|wonder|wondering|check|see|find out|ask|confirm) "
    r"(?:if|whether)|might|maybe|may have|may be|possibly|perhaps|could it|could be|"
    r"could have|whether|probably not|not certain|unsure|hinting|hints|implying|implied)\b")
_EN_FEARED = re.compile(r"\b(?:scared|afraid|worried|worry|worrying|terrified|fear|fearing|"
                        r"what if|in case|paranoid|anxious|nervous)\b")
# Anywhere in the clause: "how do I stop it being shared in the future?"
_EN_FUTURE = re.compile(r"\b(?:in the future|someday|some day|one day|ever again)\b")
# Apostrophes are gone (hotline.domain.phrases.normalise): "he'll" is "hell" here.
_EN_THREATENED = re.compile(
    r"\b(?:threaten(?:s|ed|ing)? to|hell|shell|theyll|hed|shed|theyd|"
    r"(?:he|she|they|someone|somebody) (?:will|would|is going to|are going to|is gonna)|"
    r"(?:hes|shes|theyre) (?:going to|gonna)|will|going to|gonna|wants to|plans to|next)\b")
# Words that may stand between a negation and the phrase it negates ("hasn't even been").
_EN_GLUE = frozenset({
    "be", "been", "being", "yet", "even", "actually", "really", "ever", "anything", "any",
    "it", "its", "them", "this", "that", "my", "the", "a", "an", "have", "has", "had",
    "got", "gotten", "get", "going", "to", "gonna", "so", "very", "too", "think", "exactly",
    "all", "i", "im", "he", "she", "they", "is", "was", "were", "are", "am", "do",
    "does", "did", "will", "would", "just", "at", "sure", "necessarily", "quite", "like"})
_EN_NEGATIONS = frozenset({
    "not", "never", "no", "hasnt", "havent", "hadnt", "didnt", "isnt", "wasnt", "werent",
    "arent", "doesnt", "dont", "wont", "nothing", "nobody", "cannot", "cant", "couldnt",
    "neither", "nor", "without"})
_EN_PAST = re.compile(r"\b(?:years? ago|last year|a while ago|a while back|long time ago|back then|"
                      r"back in|used to|when i was|in the past|it stopped|stopped after|"
                      r"stopped when)\b")
_EN_AUX = re.compile(r"(?:has|have|had|is|was|were|are|did|do|does|can|could|will|would)\b")
_EN_OR_NOT = re.compile(r"^\W*(?:\w+\W+){0,4}?or not\b")
# A condition, outside "know if" and the like (those are UNSURE).
_EN_IF = re.compile(r"\b(?:if|in case|once|whenever|should)\b")
_EN_SELF = frozenset({"i", "ive", "we", "id"})

# --- Korean: mostly after the phrase ------------------------------------------------------------

_KO = "[가-힣]"
_KO_NEGATED_AFTER = re.compile(
    rf"^{_KO}{{0,2}}?(?:지|진|지는|지도|지를|지가)(?:않|못|안)"
    rf"|^{_KO}{{0,6}}?(?:건|게|것은|거는|것이|적은?|적이|일은?|정도는?|생각은?)"
    r"(?:아직|전혀|절대|딱히|그렇게)?(?:없|아니|아닌|아냐|아님|안)"
    rf"|^{_KO}{{0,2}}?(?:자|이|가|는)?(?:아니[에예고라요야]|아닌|아녜|아님|아냐)"
    rf"|^{_KO}{{0,4}}?(?:얘기는|소식은|말은|연락은)(?:아직)?(?:못|없|안)")
_KO_UNSURE_AFTER = re.compile(
    rf"^{_KO}{{0,3}}?(?:는지|은지|을지|인지|건지|런지|던지|ㄴ지)"
    rf"|^{_KO}{{0,2}}?(?:을까|ㄹ까|나요|나\?|니\?|냐|수도있|지도모|지도몰|같기도)")
_KO_FEARED_AFTER = re.compile(rf"^{_KO}{{0,3}}?까봐|^{_KO}{{0,3}}?까(?:걱정|무서|두려)"
                              rf"|^{_KO}{{0,3}}?(?:면|으면)어(?:떡|떻게)")
# "-면" (if) right after the verb: "유포되면 삭제 가능한가요?" is a what-if.
_KO_IF_AFTER = re.compile(r"^(?:으)?면(?!서)")
_KO_IF_BEFORE = ("만약", "만일")
_KO_THREATENED_AFTER = re.compile(
    rf"^{_KO}{{0,2}}?(?:겠다|겠대|겠어|ㄴ다고|는다고|린다고|린대|한다고|한대|할거|릴거|"
    r"다고협박|라고협박|다고했|려고해)")
_KO_PAST_AFTER = re.compile(rf"^{_KO}?(?:었었|였었|했었|갔었|왔었)|^던"
                            rf"|^{_KO}{{0,2}}?(?:었을|였을|일|을)?때(?!문)")
_KO_UNSURE_BEFORE = ("혹시", "어쩌면")
_KO_NEGATED_BEFORE = ("안", "못")
_KO_SELF_BEFORE = ("제가", "내가")
_KO_PAST_CLAUSE = re.compile(r"예전에|옛날에|작년에|년전|과거에|그때|당시에")
_KO_AGAIN = re.compile(r"다시|또|아직도|여전히|재업|계속")
_EN_AGAIN = re.compile(r"\b(?:again|still|back up|reposted|re-uploaded)\b")

# Said anywhere in the text: content that was taken down is over unless it is back.
_REMOVED = re.compile(
    r"\b(?:got|was|were|been|has been|have been) (?:removed|deleted|taken down)\b|"
    r"\btook (?:it|them) down\b|\btaken down\b|\b(?:removed|deleted) (?:it|them)\b|"
    r"(?:다|전부|모두|이미) ?(?:삭제|지워|지웠|내려)|"
    r"삭제 ?(?:됐어|되었어|했어|됐고|했고)|지워졌|지웠어|내려갔")

# News, research and questions about the service rather than the writer's own case.
_GENERAL = re.compile(
    r"\b(?:news|article|documentary|these days|how common|in general|a crime|illegal|"
    r"do you (?:handle|help with|deal with|cover|take)|prevent|prevention|statistics|"
    r"everywhere now|paper|research|interview|study|project|essay|journalist|reporter|law|"
    r"laws|what is a|what are)\b|[가이] 뭔지|"
    r"뉴스|기사|요즘|다큐|처벌 ?(?:받나|되나|법|돼|수위)|불법인|불법이에요|예방|교육|통계|다들|"
    r"하는 ?곳|기관|맞죠|논문|과제|취재")
# The writer's own case: "me", "my" (not "my friend said"), "I'm", "I was"; not "I read".
_FIRST_PERSON = re.compile(
    r"\b(?:me|mine|myself|im|i am|i was|ive|i have|i got|i need)\b|\bmy\b(?! friend)|"
    r"제가|내가|저는|저를|저한테|저도|나를|나한테|"
    r"(?:^| )(?:제|내|저|나) |제 ?(?:얼굴|사진|영상|몸)|내 ?(?:얼굴|사진|영상|몸)|당했|피해를|"
    r"딸|아들")


def general_talk(text: str) -> str | None:
    """The news or general-question cue of a text that is not about the writer, else None."""
    m = _GENERAL.search(text)
    if m is None or _FIRST_PERSON.search(text):
        return None
    return m.group()


def removed(text: str) -> str | None:
    """The words saying the content was taken down, if any."""
    m = _REMOVED.search(text)
    return m.group() if m else None


def _english(c: Clause, hit: Hit) -> list[tuple[Cue, str]]:
    found: list[tuple[Cue, str]] = []
    before = c.text[:hit.start]
    end = _EN_SCOPE_END.match(before)
    scope = before[end.end():] if end else before
    neg_from = 0
    for unsure in _EN_UNSURE.finditer(scope):
        found.append((Cue.UNSURE, unsure.group()))
        neg_from = unsure.end()
    if (cond := _EN_IF.search(_EN_UNSURE.sub(" ", scope))) is not None:
        found.append((Cue.IF, cond.group()))
    if c.question and _EN_AUX.match(c.text) and not scope.startswith(("how", "what", "why")):
        found.append((Cue.UNSURE, "?"))
    if _EN_OR_NOT.match(c.text[hit.end:]):
        found.append((Cue.UNSURE, "or not"))
    for pattern, cue in ((_EN_FEARED, Cue.FEARED), (_EN_THREATENED, Cue.THREATENED)):
        if (m := pattern.search(scope)) is not None:
            found.append((cue, m.group()))
    if (future := _EN_FUTURE.search(c.text)) is not None:
        found.append((Cue.FEARED, future.group()))
    # A negation counts when only glue words stand between it and the phrase: "if I don't pay
    # by 9pm he'll send" is no negation of "he'll send".
    for word in reversed(scope[neg_from:].split()[-5:]):
        if word in _EN_NEGATIONS:
            found.append((Cue.NEGATED, word))
            break
        if word not in _EN_GLUE:
            break
    if (past := _EN_PAST.search(c.text)) is not None and not _EN_AGAIN.search(c.text):
        found.append((Cue.PAST, past.group()))
    if scope.split()[-1:] and scope.split()[-1] in _EN_SELF:
        found.append((Cue.SELF, scope.split()[-1]))
    return found


def _korean(c: Clause, hit: Hit) -> list[tuple[Cue, str]]:
    found: list[tuple[Cue, str]] = []
    sq = c.squeezed
    before, after = sq[max(0, hit.start - 8):hit.start], sq[hit.end:hit.end + 16]
    checks = ((_KO_NEGATED_AFTER, Cue.NEGATED), (_KO_UNSURE_AFTER, Cue.UNSURE),
              (_KO_FEARED_AFTER, Cue.FEARED), (_KO_THREATENED_AFTER, Cue.THREATENED),
              (_KO_PAST_AFTER, Cue.PAST), (_KO_IF_AFTER, Cue.IF))
    for pattern, cue in checks:
        if (m := pattern.match(after)) is not None:
            found.append((cue, m.group()))
    # "퍼졌는지 아닌지", "유포되지 않았는지 모르겠어요": the doubt wins over the negation.
    if any(cue is Cue.UNSURE for cue, _w in found):
        found = [(cue, w) for cue, w in found if cue is not Cue.NEGATED]
    if before.endswith(_KO_NEGATED_BEFORE):
        found.append((Cue.NEGATED, before[-1]))
    for words, cue in ((_KO_UNSURE_BEFORE, Cue.UNSURE), (_KO_IF_BEFORE, Cue.IF),
                       (_KO_SELF_BEFORE, Cue.SELF)):
        for word in words:
            if word in before:
                found.append((cue, word))
    if (past := _KO_PAST_CLAUSE.search(sq)) is not None and not _KO_AGAIN.search(sq):
        found.append((Cue.PAST, past.group()))
    return found


def cues(clause: Clause, hit: Hit) -> list[tuple[Cue, str]]:
    """The hedges around one phrase hit in its clause, with the words that are the cue."""
    return _korean(clause, hit) if hit.squeezed else _english(clause, hit)
