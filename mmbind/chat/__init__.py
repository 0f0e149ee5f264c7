"""mmbind.chat

Chatting with an mmbind checkpoint in the terminal about an image or a video: `ChatSession` keeps the
rounds, `ConsoleStreamer` prints the answer as it is generated, `chat_loop` reads questions from stdin.

    session = ChatSession(Generator(model, frames=8), "image", Path("cat.png"))
    session.ask("What is in the image?", ConsoleStreamer(model.llm.tokenizer))
"""

from mmbind.chat.loop import chat_loop
from mmbind.chat.session import ChatSession
from mmbind.chat.streamer import ConsoleStreamer

__all__ = ["ChatSession", "ConsoleStreamer", "chat_loop"]
