"""prompt.py

The judge's prompt: Video-ChatGPT's zero-shot QA evaluation (``eval_video_qa.py``, which Video-LLaVA's
paper uses with gpt-3.5-turbo): a system message setting the task, a user message with the question, the
correct and the predicted answer, asking for a Python dict ``{'pred': 'yes'|'no', 'score': 0-5}``.
`PROMPT_VERSION` names this exact text; it is part of every cached verdict's key and recorded with the
results, so changing a word means a new version (and no stale verdict is reused).
"""

from __future__ import annotations

PROMPT_VERSION = "videochatgpt-qa/1"

SYSTEM = (
    "You are an intelligent chatbot designed for evaluating the correctness of generative outputs for "
    "question-answer pairs. Your task is to compare the predicted answer with the correct answer and "
    "determine if they match meaningfully. Here's how you can accomplish the task:------##INSTRUCTIONS: "
    "- Focus on the meaningful match between the predicted answer and the correct answer.\n"
    "- Consider synonyms or paraphrases as valid matches.\n"
    "- Evaluate the correctness of the prediction compared to the answer."
)

USER = (
    "Please evaluate the following video-based question-answer pair:\n\n"
    "Question: {question}\n"
    "Correct Answer: {answer}\n"
    "Predicted Answer: {prediction}\n\n"
    "Provide your evaluation only as a yes/no and score where the score is an integer value between 0 and "
    "5, with 5 indicating the highest meaningful match. Please generate the response in the form of a "
    "Python dictionary string with keys 'pred' and 'score', where value of 'pred' is  a string of 'yes' or "
    "'no' and value of 'score' is in INTEGER, not STRING.DO NOT PROVIDE ANY OTHER OUTPUT TEXT OR "
    "EXPLANATION. Only provide the Python dictionary string. For example, your response should look like "
    "this: {{'pred': 'yes', 'score': 4.8}}."
)


def messages(question: str, answer: str, prediction: str) -> list[dict[str, str]]:
    """The chat messages asking for one verdict."""
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": USER.format(question=question, answer=answer, prediction=prediction)}]
