"""``%%qwen`` / ``%qwen`` / ``%qwencmd``: parse, build one Request, hand it to the runner.

Nothing here imports an SDK: ``%load_ext qwen_magic`` stays fast.
"""

from __future__ import annotations

import asyncio
import shlex
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from IPython.core.magic import (
    Magics,
    line_cell_magic,
    line_magic,
    magics_class,
    no_var_expand,
)
from traitlets import Bool, Dict, Enum, Float, Int, TraitError, Unicode, validate

from qwen_magic.chats import Chat, ChatBook
from qwen_magic.errors import QwenUsageError, ServiceError
from qwen_magic.ipython.checks import TRAIT_CHECKS, check_options, check_out_name
from qwen_magic.ipython.cmdline import split_options
from qwen_magic.ipython.manual import qwen_options
from qwen_magic.options.build import DISPLAYS, build_request
from qwen_magic.request import APIS, FORMATS, Request
from qwen_magic.result import Result
from qwen_magic.session import Session

if TYPE_CHECKING:
    from qwen_magic.emulator import Emulator
    from qwen_magic.masking import Secret


@dataclass
class Call:
    """One parsed %%qwen call, ready to run."""

    request: Request
    display: str
    out: str | None
    chat: Chat | None = None
    cell_id: str | None = None
    execution: str | None = None
    fix: bool = False  # --fix: -f code takes the corrected cell (fix.fixed_cell)
    display_id: str | None = None  # of the answer's output (a chat marks it when dropped)
    tools: Any = None  # --tools: ipython.tools.ToolSetup (the loop runs the call)
    dry_run: bool = False  # --dry-run: show what would be sent and its estimate; send nothing


@magics_class
class QwenMagics(Magics):
    """Ask Qwen models from IPython. Every setting below is an IPython config trait."""

    model = Unicode("qwen3.5-plus", help="Default model.").tag(config=True)
    api = Enum(APIS, default_value="chat", help="chat, responses or dashscope.").tag(config=True)
    region = Unicode("sg", help="sg, us, cn, hk or de.").tag(config=True)
    workspace = Unicode(None, allow_none=True, help="Model Studio workspace id.").tag(config=True)
    base_url = Unicode(None, allow_none=True, help="Overrides the region's URL.").tag(config=True)
    legacy_responses = Bool(
        False, help="--api responses on the legacy /api/v2/apps/protocols/compatible-mode/v1 path."
    ).tag(config=True)
    api_key_env = Unicode("DASHSCOPE_API_KEY", help="Environment variable holding the key.").tag(
        config=True
    )
    send_key_to_base_url = Bool(
        False, help="Also send the key to a --base-url that is not an Alibaba Cloud host."
    ).tag(config=True)
    system = Unicode(None, allow_none=True, help="Default system message.").tag(config=True)
    thinking = Bool(None, allow_none=True, help="True/False sends enable_thinking.").tag(
        config=True
    )
    thinking_budget = Int(None, allow_none=True, help="Default thinking budget.").tag(config=True)
    thinking_param = Unicode("auto", help="How --think reaches the server (see %qwen?).").tag(
        config=True
    )
    stream = Bool(True, help="Stream answers.").tag(config=True)
    warm_up = Bool(True, help="In a kernel, import the SDK in the background at load.").tag(
        config=True
    )
    display = Enum(
        ("auto", *DISPLAYS),
        default_value="auto",
        help="auto (live where a person runs the cell; final in headless runs), live, final "
        "or none.",
    ).tag(config=True)
    format = Enum(FORMATS, default_value="markdown", help="markdown or text.").tag(config=True)
    update_interval = Float(0.1, help="Seconds between UI refreshes while streaming.").tag(
        config=True
    )
    timeout = Float(120.0, help="Seconds to wait for the service (per read).").tag(config=True)
    max_retries = Int(2, help="Retries before the first token (429, 5xx, network).").tag(
        config=True
    )
    deadline = Float(
        300.0,
        allow_none=True,
        help="Seconds a call may wait for its answer to begin, retries included (None: no limit).",
    ).tag(config=True)
    concurrency = Int(4, help="Parallel requests for batch runs.").tag(config=True)
    debug = Bool(False, help="Show tracebacks of internal errors.").tag(config=True)
    context_budget = Int(
        2000, help="Tokens of context per prompt: {df} summaries, --file, --url."
    ).tag(config=True)
    interpolate_calls = Bool(
        False,
        help="Let {expr} in prompts (and -i {expr}) run calls and operators; off: {...} only "
        "reads names, attributes, indexes and literals. exit()/quit() never run.",
    ).tag(config=True)
    explain_errors = Bool(
        False,
        help='An "Explain with Qwen" button under each uncaught exception (sends nothing '
        "until clicked; live view only).",
    ).tag(config=True)
    prices = Dict(
        None,
        allow_none=True,
        help="Your prices over the built-in table: {model: {input, output, currency, regions, "
        "tiers...}} per million tokens (see %qwen?).",
    ).tag(config=True)
    prices_file = Unicode(
        None, allow_none=True, help="A TOML or JSON file of prices over the built-in table."
    ).tag(config=True)
    budget = Float(
        None,
        allow_none=True,
        help="The session's budget in the price table's currency: a call whose estimate would "
        "pass it is refused before it is sent (None: no budget).",
    ).tag(config=True)

    history = Bool(
        True, help="Append every call to the local history (%qwencmd log); never the key."
    ).tag(config=True)
    history_path = Unicode(
        None, allow_none=True, help="The history file (default: in the user's data directory)."
    ).tag(config=True)

    @validate("history_path")
    def _validate_history_path(self, proposal: Any) -> Any:
        from qwen_magic.logbook.store import checked_path

        try:
            return checked_path(proposal["value"])
        except TraitError as exc:
            raise self._refused("history_path", str(exc)) from None

    _refused_name: str | None = None  # the trait whose value was refused last

    @validate("prices", "prices_file", "budget")
    def _validate_cost(self, proposal: Any) -> Any:
        from qwen_magic.ipython.budget import check_trait

        name, value = proposal["trait"].name, proposal["value"]
        try:
            return check_trait(self, name, value)
        except TraitError as exc:
            raise self._refused(name, str(exc)) from None

    # Every trait is checked on assignment: `%config` with a bad value fails there and then,
    # and the value is not kept (see _refused).
    @validate(
        "update_interval", "timeout", "deadline", "max_retries", "concurrency",
        "thinking_budget", "model", "region", "base_url", "workspace", "api_key_env",
        "thinking_param", "context_budget",
    )  # fmt: skip
    def _validate(self, proposal: Any) -> Any:
        name, value = proposal["trait"].name, proposal["value"]
        try:
            return TRAIT_CHECKS[name](self, value)
        except TraitError as exc:
            raise self._refused(name, str(exc)) from None

    def _refused(self, name: str, message: str) -> TraitError:
        """A refused value is dropped from the shell's configuration too, or the extension
        would fail to load again with it. ``%config`` updates the configurables in class-name
        order: the shell may have merged it already (dropped here), or merge it next (then
        ``_load_config`` drops it from the very Config the shell is about to merge)."""
        self._refused_name = name
        section = getattr(self.shell, "config", {}).get(type(self).__name__)
        if section is not None and name in section:
            del section[name]
        return TraitError(message)

    def _load_config(self, cfg: Any, *args: Any, **kwargs: Any) -> None:
        self._refused_name = None
        try:
            super()._load_config(cfg, *args, **kwargs)
        except TraitError:
            name, section = self._refused_name, cfg.get(type(self).__name__)
            if name is not None and section is not None and name in section:
                del section[name]
            raise

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.session = Session()

    # The session's parts, under the names the config and the tests use.
    @property
    def chats(self) -> ChatBook:
        return self.session.chats

    @property
    def emulator(self) -> Emulator | None:
        return self.session.emulator

    @property
    def session_key(self) -> Secret | None:
        """``%qwencmd key`` (read by ``build_request``; None: the environment's key)."""
        return self.session.key

    def use_emulator(self, emulator: Emulator | None, *, owned: bool = False) -> None:
        """Send every call to ``emulator`` (None: back to the service); stop one we started."""
        self.session.use_emulator(emulator, owned=owned)

    @property
    def emulator_bases(self) -> dict[str, str] | None:
        return self.session.emulator_bases(self.legacy_responses)

    # ------------------------------------------------------------------ %%qwen / %qwen
    @qwen_options
    @no_var_expand  # {name} is ours to fill (and -i {img} must see the object, not its str)
    @line_cell_magic
    def qwen(self, line: str, cell: str | None = None) -> None:
        """Replaced by the manual (``manual.qwen_options``): ``%qwen?`` shows it."""
        asked_at = time.perf_counter()  # the footer's clock: the user's whole wait
        many = self._many(line, cell)
        if many is not None:  # --each, or a compare (ipython/many.py)
            from qwen_magic.ipython.many import run

            run(self, many)
            return
        call = self._prepare(line, cell)
        if self._before(call):  # --dry-run, or the budget refuses (ipython/budget.py)
            return
        if call.tools is not None:  # the tool loop (ipython/tools.py)
            from qwen_magic.ipython.tools import run as run_tools

            result = run_tools(self, call, asked_at)
        else:
            result = self._execute(call.request, call.display, asked_at, call)
        self._conclude(call, result)

    async def qwen_async(self, line: str, cell: str | None) -> None:
        """``%%qwen`` as a coroutine on the kernel's loop (see ``kernel.py``): Stop works."""
        asked_at = time.perf_counter()
        from qwen_magic.runner import execute_many_async

        many = self._many(line, cell)
        if many is not None:
            from qwen_magic.ipython.many import run_async

            await run_async(self, many)
            return
        call = self._prepare(line, cell)
        if self._before(call):
            return
        if call.tools is not None:  # the tool loop, awaited: Stop, Run and Skip arrive
            from qwen_magic.ipython.tools import run_async as run_tools

            self._conclude(call, await run_tools(self, call, asked_at))
            return
        renderer = self._renderer(call.display, stoppable=True)
        try:
            results = await execute_many_async(
                [call.request], renderer, self.update_interval, self.concurrency, asked_at=asked_at
            )
            result = results[0]
        except (KeyboardInterrupt, asyncio.CancelledError):  # an interrupt the runner missed
            task = asyncio.current_task()
            if task is not None and hasattr(task, "uncancel"):
                task.uncancel()
            result = _fallback(call.request, renderer, None)
        except Exception as exc:  # a bug: this cell still gets its Result, with the error
            result = _fallback(call.request, renderer, exc)
        call.display_id = _display_id(renderer)
        self._after(result, call.request, "fix" if call.fix else None)
        self._conclude(call, result)

    def _many(self, line: str, cell: str | None) -> Any:
        """The checked requests of a many-answer cell (--each, a compare), or None."""
        args, prompt = self._parse(line, cell)
        from qwen_magic.ipython.many import prepare, wants_many

        if not wants_many(args):
            return None
        from qwen_magic.ipython.tools import refuse_with_many

        refuse_with_many(args)
        return prepare(self, args, prompt)

    def _prepare(self, line: str, cell: str | None) -> Call:
        """Parse and validate everything, before any request."""
        args, prompt = self._parse(line, cell)
        out = args.out
        if out is not None:
            check_out_name(out, self.shell)
        options = vars(args)
        check_options(options)
        namespace = self.shell.user_ns if self.shell else {}
        calls = bool(args.interpolate_calls or self.interpolate_calls)
        inline: list[Any] = []
        from qwen_magic.ipython.context import fill_prompt  # {name}, {df} summaries, --file, --url

        filled, attachments = fill_prompt(self, args, prompt, namespace, calls)
        prompt, inline = filled.text, filled.media
        if args.image or args.video or inline:
            from qwen_magic.media.sources import load_media

            options["media"] = load_media(
                args.image or [], args.video or [], inline, namespace, calls
            )
        if args.audio:  # -a: audio parts, after the images and video
            from qwen_magic.media.sounds import load_audio

            heard = load_audio(args.audio, namespace, calls)
            options["media"] = [*(options.get("media") or []), *heard]
        chat, cell_id, execution = None, None, None
        if args.chat:
            from qwen_magic.ipython.kernel import current_cell_id, current_execution

            chat, cell_id = self.session.chats.open(args.chat), current_cell_id(self.shell)
            execution = current_execution(self.shell)
            if args.system is not None:
                chat.system = args.system
            options["system"] = chat.system
        from qwen_magic.ipython.tools import note_search, prepare_tools

        tools = prepare_tools(options, namespace, calls)  # --tools: their schemas
        request = build_request(prompt, options, self)
        request.attachments = attachments
        note_search(self.session, request.api, request.search)
        if chat is not None:
            from qwen_magic.media import check_media

            request.history = chat.history_for(cell_id, execution)
            check_media(
                request.media, model=request.model, api=request.api, history=request.history
            )
            from qwen_magic.voices import check_voice

            check_voice(request)  # audio in earlier turns: an API or a model that hears it
        display = "none" if args.quiet else self.display
        return Call(request, display, out, chat, cell_id, execution, fix=bool(args.fix),
                    tools=tools, dry_run=bool(getattr(args, "dry_run", False)))  # fmt: skip

    def _before(self, call: Call) -> bool:
        """True: a dry run, shown, nothing to send. The budget refuses here, before any
        request (a UsageError with the numbers)."""
        from qwen_magic.ipython.budget import before_sending

        return before_sending(self, [call.request], dry_run=call.dry_run, out=call.out)

    def _warn_if_hidden(self, call: Call, result: Result) -> None:
        """With nothing displayed (-q, display="none") a failure must still be noticed."""
        if call.display == "none" and result.error is not None:
            from qwen_magic.render.safe import plain_text  # a server's message: no escapes

            error = result.error
            print(plain_text(f"qwen: {error.summary()}. Fix: {error.hint}"), file=sys.stderr)

    def _conclude(self, call: Call, result: Result) -> None:
        """Store the Result (first: whatever fails next, ``_qwen`` is this cell's), record the
        chat turn, put code in the next cell, and make sure a hidden failure is noticed."""
        self._store(result, call.out)
        self._warn_if_hidden(call, result)
        if call.chat is not None and result.ok:
            from qwen_magic.chats import Turn
            from qwen_magic.messages import user_message

            tools = call.tools
            turn = Turn(
                user=user_message(call.request),  # the real parts, not the elided ones
                answer=result.text if tools is None else tools.answer or "",
                reasoning=result.reasoning,
                cell_id=call.cell_id,
                execution=call.execution,
                model=result.model,
                usage=result.usage.as_dict(),
                tool_messages=list(tools.messages) if tools is not None else [],
            )
            dropped = call.chat.record(turn)
            call.chat.show(turn, call.display_id, result)
            if dropped:  # their cells still show them: mark them
                from qwen_magic.ipython.stale import mark_dropped

                mark_dropped(call.chat, dropped, self.shell)
        if call.request.format == "code" and result.text and self.shell is not None:
            from qwen_magic.ipython.codecells import code_cell

            code = code_cell(result.text)
            if call.fix:
                from qwen_magic.ipython.fix import fixed_cell

                code = fixed_cell(result.text)
            if code:
                self.shell.set_next_input(code, replace=False)

    def _parse(self, line: str, cell: str | None) -> tuple[Any, str]:
        option_text, rest = split_options(line, self.qwen.parser)
        try:
            argv = shlex.split(option_text)
        except ValueError as exc:
            raise QwenUsageError(f"Could not read the options {option_text!r}: {exc}.") from None
        args = self.qwen.parser.parse_args(argv)
        prompt = rest if cell is None else (rest + "\n" + cell if rest else cell)
        if args.fix:  # the question is built here; the user's words are added as written
            from qwen_magic.ipython.fix import fix_prompt

            prompt, args.raw = fix_prompt(self, prompt), True
        return args, prompt.strip("\n")

    def _renderer(self, display: str, stoppable: bool = False) -> Any:
        from qwen_magic.render import FinalRenderer, NullRenderer

        if display == "auto":  # headless (nbclient, papermill, nbconvert): no widgets to save
            from qwen_magic.ipython.kernel import frontend_takes_input

            display = "final" if frontend_takes_input(self.shell) is False else "live"
        if display == "none":
            return NullRenderer()
        if display == "final":
            return FinalRenderer()
        if self.shell is None or _is_terminal(self.shell):
            from qwen_magic.render.terminal import TerminalRenderer

            return TerminalRenderer()
        from qwen_magic.render.live import LiveRenderer

        return LiveRenderer(stoppable=stoppable)

    def _execute(
        self, request: Request, display: str, asked_at: float | None = None, call: Any = None
    ) -> Result:
        """Run synchronously. Never raises: Ctrl-C keeps the partial answer (the runner stops
        the stream), and a bug becomes a Result carrying an internal error."""
        from qwen_magic.runner import execute_many

        renderer = self._renderer(display)
        try:
            # One request today; --each and comparisons (issue 12) hand N to the same call,
            # at most `concurrency` at a time.
            result = execute_many(
                [request], renderer, self.update_interval, self.concurrency, asked_at=asked_at
            )[0]
        except KeyboardInterrupt:  # one that arrived outside the runner's own handler
            result = _fallback(request, renderer, None)
        except Exception as exc:
            result = _fallback(request, renderer, exc)
        if call is not None:
            call.display_id = _display_id(renderer)
        self._after(result, request, "fix" if call is not None and call.fix else None)
        return result

    def _after(
        self,
        result: Result,
        request: Request | None = None,
        kind: str | None = None,
        log: bool = True,
    ) -> None:
        """Every finished call passes here (a cell, ask(), each --each item, each variant).
        ``log=False``: the caller writes the history itself (many answers in one write)."""
        self.session.record(result)
        if self.session.recorder is not None:  # %qwencmd record start PATH
            from qwen_magic.ipython.recorder import record_call

            record_call(self, self.session.recorder, result, request)
        if self.history and log:  # the local log (%qwencmd log): one insert
            from qwen_magic.ipython.logbook import log_call

            log_call(self, result, request, kind)
        if self.budget is not None and result.cost is not None:  # the 80 % line, once
            from qwen_magic.ipython.budget import after_call

            after_call(self, result.cost.currency)
        error = result.error
        if error is not None and error.kind == "internal" and self.debug:
            print(error.context.get("traceback", ""), file=sys.stderr)

    def _store(self, result: Result, out: str | None) -> None:
        if self.shell is None:
            return
        self.shell.user_ns["_qwen"] = result
        if out:
            self.shell.user_ns[out] = result

    # ------------------------------------------------------------------ %qwencmd
    @line_magic
    def qwencmd(self, line: str) -> Any:
        """Manage qwen_magic.

        Usage::

            %qwencmd config              effective settings and URLs (the key masked)
            %qwencmd key                 type the API key (getpass; kept in memory only)
            %qwencmd models              list the endpoint's models
            %qwencmd usage               tokens and calls this session, per model
            %qwencmd chats               the named chats (-c NAME): turns, model, tokens
            %qwencmd history NAME        a chat's transcript (reasoning folded)
            %qwencmd reset [NAME]        forget a chat (all chats without NAME)
            %qwencmd save NAME PATH      save a chat as JSON (never the key); --force to
                                         replace a file that is not a chat
            %qwencmd load NAME PATH      load a saved chat under NAME
            %qwencmd emulator start      answer from the offline emulator (no network, no key)
            %qwencmd emulator start --replay PATH [--speed X]
                                         answer from a recording (docs/recording.md);
                                         unrecorded requests get a marked echo
            %qwencmd emulator stop       back to the real service
            %qwencmd record start PATH   append every answer to a recording (never the key)
            %qwencmd record stop         stop recording
            %qwencmd debug on|off        show tracebacks of internal errors
            %qwencmd voices              the documented voices of the models that speak
            %qwencmd jobs                provider Batch jobs of this machine (--each --batch)
            %qwencmd job ID              one job's status (also qwen_magic.job(ID))
            %qwencmd job cancel ID       cancel a job (answers already made are kept)
            %qwencmd fix [options] [words]  explain the last error and propose a corrected
                                         cell (%qwen's options: -f code puts it below)
            %qwencmd log [search WORDS] [--model M] [--since 7d] [--limit N]
                                         past calls, newest first (kept across restarts)
            %qwencmd log show ID         one call in full
            %qwencmd log export PATH     the calls as JSON Lines (also qwen_magic.history())
            %qwencmd log forget ID|--all|--before 30d|search WORDS   delete calls
        """
        from qwen_magic.ipython import commands

        return commands.run(self, line)


def _fallback(request: Request, renderer: Any, exc: Exception | None) -> Result:
    """The Result of a run the runner could not finish itself: an interrupt that arrived
    outside its handler (``exc`` None) or a bug. The live view is replaced as usual."""
    from qwen_magic.masking import redact

    error = None
    if exc is not None:
        import traceback

        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        error = ServiceError("internal", redact(f"{type(exc).__name__}: {exc}"))
        error.context["traceback"] = redact(text)
        error.hint = (
            "this is a bug in qwen_magic: please report it (`%qwencmd debug on` shows more)."
        )
    result = Result(
        model=request.model,
        api=request.api,
        region=request.region,
        interrupted=exc is None,
        error=error,
        format=request.format,
        media=request.media,
    )
    try:
        renderer.finish(result)
    except Exception:  # the renderer may be what broke: say it on stderr instead
        from qwen_magic.render.safe import plain_text

        summary = error.summary() if error is not None else "Interrupted: no answer was kept."
        print(f"qwen: {plain_text(summary)}", file=sys.stderr)
    return result


def _display_id(renderer: Any) -> str | None:
    """The display id of the output a view left (None: it left none, or no id)."""
    return getattr(getattr(renderer, "handle", None), "display_id", None)


def _is_terminal(shell: Any) -> bool:
    return any(cls.__name__ == "TerminalInteractiveShell" for cls in type(shell).__mro__)
