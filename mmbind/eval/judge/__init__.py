"""mmbind.eval.judge

The GPT judge of open answers (Video-ChatGPT's yes/no + 0-5 score protocol, as the paper uses) through
any OpenAI-compatible endpoint, with every valid verdict cached on disk (an invalid one is asked again by
the next run), and the offline normalised-match score used without a judge (labelled as not comparable
with the paper).

    judge = Judge(config_from_env("gpt-3.5-turbo"))
    verdicts = judge.judge([(question, answer, prediction), ...])
"""

from mmbind.eval.judge.cache import VerdictCache, verdict_key
from mmbind.eval.judge.client import Judge, JudgeConfig, VerdictCounts, config_from_env
from mmbind.eval.judge.offline import OFFLINE_LABEL, offline_match
from mmbind.eval.judge.prompt import PROMPT_VERSION, messages
from mmbind.eval.judge.verdict import Verdict, parse_verdict

__all__ = ["OFFLINE_LABEL", "PROMPT_VERSION", "Judge", "JudgeConfig", "Verdict", "VerdictCache",
           "VerdictCounts", "config_from_env", "messages", "offline_match", "parse_verdict", "verdict_key"]
