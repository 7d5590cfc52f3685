"""Bot API objects and method handlers for FakeBotAPI (testkit/telegram_api.py): chats,
users, messages, updates as the Bot API shapes them, and what each method answers."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

BOT_ID = 777000111
BOT_USERNAME = "threatwatch_test_bot"
ADMIN_RIGHTS = [
    "can_be_edited",
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "is_anonymous",
]


def user(user_id: int, name: str = "Analyst") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": name, "username": f"user{user_id}"}


@dataclass
class Sent:
    """One message the bot sent (or edited)."""

    method: str
    chat_id: int
    message_id: int
    text: str
    params: dict[str, Any]
    thread_id: int | None = None
    reply_to: int | None = None
    document: bytes | None = None
    edits: list[str] = field(default_factory=list)
    at: float = field(default_factory=time.monotonic)  # when the server accepted it
    caller: str = ""  # the process that sent it, when several share the server

    @property
    def buttons(self) -> list[tuple[str, str]]:
        markup = self.params.get("reply_markup") or {}
        return [
            (b["text"], b.get("callback_data", ""))
            for row in markup.get("inline_keyboard", [])
            for b in row
        ]


class TelegramObjects:
    lock: threading.Condition
    current_caller: str
    updates: list[dict[str, Any]]
    sent: list[Sent]
    commands: dict[str, list[dict[str, str]]]
    files: dict[str, bytes]
    webhook: dict[str, Any] | None

    def __init__(self) -> None:
        self.chats: dict[int, dict[str, Any]] = {}
        self.chat_admins: dict[int, set[int]] = {}  # chat id → user ids with admin status
        self.message_ids = itertools.count(1000)
        self.file_ids = itertools.count(1)
        self.callback_ids = itertools.count(1)
        self.answered_callbacks: list[dict[str, Any]] = []

    def push(self, update: dict[str, Any]) -> int:
        raise NotImplementedError  # FakeBotAPI queues the update for getUpdates

    # --- objects ----------------------------------------------------------------------------
    def chat(
        self,
        chat_id: int,
        chat_type: str | None = None,
        *,
        forum: bool = False,
        title: str | None = None,
    ) -> dict[str, Any]:
        if chat_id not in self.chats or chat_type:
            kind = chat_type or ("private" if chat_id > 0 else "supergroup")
            chat: dict[str, Any] = {"id": chat_id, "type": kind}
            if kind == "private":
                chat["first_name"] = "Analyst"
            else:
                chat["title"] = title or f"Chat {chat_id}"
            if forum:
                chat["is_forum"] = True
            self.chats[chat_id] = chat
        return self.chats[chat_id]

    def message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = 1,
        chat_type: str | None = None,
        thread_id: int | None = None,
        reply_to: dict[str, Any] | None = None,
        document: tuple[str, bytes] | None = None,
    ) -> dict[str, Any]:
        """A message a user sends; commands get their bot_command entity as Telegram adds it."""
        chat = self.chat(chat_id, chat_type, forum=thread_id is not None)
        msg: dict[str, Any] = {
            "message_id": next(self.message_ids),
            "date": int(time.time()),
            "chat": chat,
        }
        if user_id is not None:
            msg["from"] = user(user_id)
        elif chat["type"] != "channel":
            msg["sender_chat"] = chat  # an anonymous group admin
        if thread_id is not None:
            msg["message_thread_id"] = thread_id
            msg["is_topic_message"] = True
        if reply_to is not None:
            msg["reply_to_message"] = reply_to
        key = "caption" if document else "text"
        msg[key] = text
        if text.startswith("/"):
            length = len(text.split()[0])
            msg[f"{key}_entities" if document else "entities"] = [
                {"type": "bot_command", "offset": 0, "length": length}
            ]
        if document is not None:
            file_id = f"doc{next(self.file_ids)}"
            self.files[f"documents/{file_id}"] = document[1]
            msg["document"] = {
                "file_id": file_id,
                "file_unique_id": file_id,
                "file_name": document[0],
                "file_size": len(document[1]),
            }
        return msg

    def send_command(self, chat_id: int, text: str, **kwargs: Any) -> dict[str, Any]:
        """Push a message as an update (a channel's post when the chat is a channel)."""
        msg = self.message(chat_id, text, **kwargs)
        kind = "channel_post" if msg["chat"]["type"] == "channel" else "message"
        self.push({kind: msg})
        return msg

    def press(self, sent: Sent, data: str, *, user_id: int = 1) -> str:
        """A user presses an inline button of a message the bot sent."""
        callback_id = str(next(self.callback_ids))
        message = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": self.chat(sent.chat_id),
            "text": sent.text,
        }
        if sent.thread_id:
            message |= {"message_thread_id": sent.thread_id, "is_topic_message": True}
        self.push(
            {
                "callback_query": {
                    "id": callback_id,
                    "from": user(user_id),
                    "chat_instance": "ci",
                    "data": data,
                    "message": message,
                }
            }
        )
        return callback_id

    def _bot_message(
        self, method: str, params: dict[str, Any], text: str, document: bytes | None = None
    ) -> dict[str, Any]:

        chat_id = int(params["chat_id"])
        thread = int(params["message_thread_id"]) if params.get("message_thread_id") else None
        reply = params.get("reply_parameters") or {}
        sent = Sent(
            method,
            chat_id,
            next(self.message_ids),
            text,
            params,
            thread,
            reply.get("message_id"),
            document,
            caller=self.current_caller,
        )
        self.sent.append(sent)
        msg: dict[str, Any] = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": self.chat(chat_id),
            "from": self.api_getMe({}),
        }
        if thread is not None:
            msg |= {"message_thread_id": thread, "is_topic_message": True}
        if document is not None and method == "sendPhoto":
            size = {"file_id": "sent", "file_unique_id": "sent", "width": 1, "height": 1}
            msg["photo"] = [size]
            msg["caption"] = text
        elif document is not None:
            msg["document"] = {
                "file_id": "sent",
                "file_unique_id": "sent",
                "file_name": params["document"]["filename"],
            }
            msg["caption"] = text
        else:
            msg["text"] = text
        return msg

    # --- methods ----------------------------------------------------------------------------
    def api_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Threatwatch",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self.lock:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed
            while not self.updates and time.monotonic() < deadline:
                self.lock.wait(min(deadline - time.monotonic(), 0.5))
            return list(self.updates[: int(params.get("limit") or 100)])

    def api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._bot_message("sendMessage", params, str(params["text"]))

    def api_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._bot_message(
            "sendDocument", params, str(params.get("caption", "")), params["document"]["content"]
        )

    def api_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any] | tuple[int, dict[str, Any]]:
        photo = params.get("photo")
        if not isinstance(photo, dict) or not photo.get("content"):
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: there is no photo in the request",
            }
        return self._bot_message(
            "sendPhoto", params, str(params.get("caption", "")), photo["content"]
        )

    def api_editMessageText(
        self, params: dict[str, Any]
    ) -> dict[str, Any] | tuple[int, dict[str, Any]]:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        for sent in self.sent:
            if sent.chat_id == chat_id and sent.message_id == message_id:
                if sent.text == params["text"]:
                    return 400, {
                        "ok": False,
                        "error_code": 400,
                        "description": "Bad Request: message is not modified",
                    }
                sent.edits.append(sent.text)
                sent.text, sent.params = str(params["text"]), {**sent.params, **params}
                return {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": self.chat(chat_id),
                    "text": sent.text,
                }
        return 400, {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: message to edit not found",
        }

    def api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        self.answered_callbacks.append(params)
        return True

    def api_setMyCommands(self, params: dict[str, Any]) -> bool:
        scope = params.get("scope") or {"type": "default"}
        self.commands[f"{scope['type']}:{scope.get('chat_id', '')}"] = params["commands"]
        return True

    def api_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    def api_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = params
        return True

    def api_getFile(self, params: dict[str, Any]) -> dict[str, Any] | tuple[int, dict[str, Any]]:
        path = f"documents/{params['file_id']}"
        if path not in self.files:
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: invalid file_id",
            }
        return {
            "file_id": params["file_id"],
            "file_unique_id": params["file_id"],
            "file_size": len(self.files[path]),
            "file_path": path,
        }

    def _member(self, chat_id: int, user_id: int) -> dict[str, Any]:
        if user_id in self.chat_admins.get(chat_id, set()):
            return {
                "status": "administrator",
                "user": user(user_id),
                **dict.fromkeys(ADMIN_RIGHTS, False),
                "can_manage_chat": True,
            }
        return {"status": "member", "user": user(user_id)}

    def api_getChatMember(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._member(int(params["chat_id"]), int(params["user_id"]))

    def api_getChatAdministrators(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        chat_id = int(params["chat_id"])
        return [self._member(chat_id, u) for u in sorted(self.chat_admins.get(chat_id, set()))]
