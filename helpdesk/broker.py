"""The embedded broker: kombu's file-system transport, with writes a reader can never see half-done.

kombu's own file-system channel (``kombu.transport.filesystem``) creates a message file under its
final name, then locks it, then writes it; its reader lists the folder and reads whatever it
finds without taking the lock. A worker polling between the create and the write reads an empty
or truncated file, raises ``JSONDecodeError`` and exits (kombu#1551): the message is lost and,
without a process manager, so is the worker. The same three steps write the exchange tables.

Here every file is written under a name that no reader looks at (a leading dot), flushed to
disk, and renamed into place: ``rename`` is atomic, so a reader sees no file or the whole file.
Consumers take a message by removing its file; of two workers that read the same file, exactly
one removal succeeds and only that worker delivers it. A file that still cannot be read (a disk
that lost its data in a power cut) is set aside under a name no reader matches, and logged;
the escalation sweeper turns its escalation into a ticket anyway.

The folder layout, file names and transport options are kombu's, so a queue folder written by
either transport can be read by this one. Selected in settings with ``CELERY_BROKER_TRANSPORT``
whenever ``CELERY_BROKER_URL`` is ``filesystem://``.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

# What a message file that could not be read is renamed to (next to the queue's messages).
UNREADABLE_SUFFIX = ".unreadable"


def write_atomically(path: Path, data: bytes, *, durable: bool) -> None:
    """Write ``data`` to ``path`` so that readers see either no file or all of it.

    The temporary name starts with a dot: kombu's readers match ``<stamp>.<queue>.msg`` on the
    text after the first dot, which for a dotted name is never ``<queue>.msg``. With
    ``durable``, the data reaches the disk before the rename, so a power cut cannot leave the
    final name pointing at an empty file on file systems that delay allocation (ext4, xfs)."""
    staging = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(staging, "xb") as file:
            file.write(data)
            if durable:
                file.flush()
                os.fsync(file.fileno())
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


class Channel(filesystem.Channel):
    """kombu's file-system channel with atomic writes and a reader that takes each message once."""

    # kombu's two base classes name the argument differently (message, payload); it is passed
    # by position.
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        # kombu's name: the stamp sorts the folder roughly by age, the uuid makes it unique.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        path = Path(self.data_folder_out) / name
        try:
            write_atomically(path, str_to_bytes(dumps(payload)), durable=self.durable)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {str(path)!r} to directory") from exc

    def _get(self, queue: str, timeout: float | None = None) -> dict[str, Any]:
        folder = Path(self.data_folder_in)
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(folder)):
            if name.partition(".")[2] != wanted:
                continue
            path = folder / name
            try:
                payload = path.read_bytes()
            except FileNotFoundError:
                continue  # another consumer took it since the listing
            except OSError as exc:
                raise ChannelError(f"Cannot read file {str(path)!r} from queue.") from exc
            try:
                message = loads(bytes_to_str(payload))
            except ValueError as exc:  # not JSON, or not UTF-8
                self._set_aside(path, exc)
                continue
            if not isinstance(message, dict):
                self._set_aside(path, TypeError(f"a {type(message).__name__}, not a message"))
                continue
            if self._take(path):
                return message
            # Another consumer read the same file and took it first: it delivers the message.
        raise Empty()

    def _take(self, path: Path) -> bool:
        """Remove the message file from the queue; False when another consumer already has.

        Removal (or the rename into the processed folder) succeeds for exactly one caller."""
        try:
            if self.store_processed:
                os.rename(path, Path(self.processed_folder) / path.name)
            else:
                path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:  # e.g. a processed folder on another file system
            raise ChannelError(f"Cannot take file {str(path)!r} from queue.") from exc
        return True

    def _set_aside(self, path: Path, error: Exception) -> None:
        target = path.with_name(path.name + UNREADABLE_SUFFIX)
        try:
            os.rename(path, target)
        except FileNotFoundError:
            return  # another consumer set it aside already
        logger.error("Broker message %s could not be read (%s); kept as %s", path, error, target)

    # --- exchange tables: read-modify-write under a lock file, written atomically ----------

    @contextmanager
    def _table_lock(self, table: Path) -> Iterator[None]:
        # A separate lock file, since the table file itself is replaced on every write.
        with open(table.with_name(f".{table.name}.lock"), "ab") as lock_file:
            filesystem.lock(lock_file, filesystem.LOCK_EX)
            try:
                yield
            finally:
                filesystem.unlock(lock_file)

    def _write_table(self, table: Path, queues: list[filesystem.exchange_queue_t]) -> None:
        write_atomically(table, str_to_bytes(dumps(queues)), durable=self.durable)

    def queue_bind(
        self,
        queue: str,
        exchange: str | None = None,
        routing_key: str = "",
        arguments: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # kombu records the binding in the transport's in-memory state, shared by every channel
        # of the process, before it writes the table file, and skips the file when the record
        # exists: another thread's channel then published into a table without its queue and
        # the message was dropped. Publishers read the file, so the file is made to hold the
        # binding first, always (declarations are cached per connection: this is rare).
        exchange = exchange or "amq.direct"
        meta = self.typeof(exchange).prepare_bind(queue, exchange, routing_key, arguments)
        self._queue_bind(exchange, *meta)
        super().queue_bind(queue, exchange, routing_key, arguments, **kwargs)

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        table = self._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        try:
            with self._table_lock(table):
                queues = self.get_table(exchange)
                if binding not in queues:
                    self._write_table(table, [binding, *queues])
        except OSError as exc:
            raise ChannelError(f"Cannot open {table}") from exc

    def _delete(
        self, queue: str, exchange: str, routing_key: str, pattern: str, *args: Any, **kwargs: Any
    ) -> None:
        virtual.Channel._delete(self, queue, exchange, routing_key, pattern, *args, **kwargs)
        table = self._exchange_file(exchange)
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        if not table.exists():
            return
        with self._table_lock(table):
            queues = self.get_table(exchange)
            if binding in queues:
                self._write_table(table, [q for q in queues if q != binding])

    @property
    def durable(self) -> bool:
        """Whether writes reach the disk before they become visible (transport option
        ``fsync``, on by default)."""
        return bool(self.transport_options.get("fsync", True))


class Transport(filesystem.Transport):
    Channel = Channel
    # The state of exchanges and bindings held in memory, kept apart from kombu's own transport.
    global_state = virtual.BrokerState()

    @property
    def default_connection_params(self) -> dict:
        # A folder has no host: kombu's virtual default of "localhost" only made every process
        # that connects log "No hostname was supplied. Reverting to default 'localhost'".
        return {}
