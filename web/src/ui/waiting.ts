// The secure domain's waiting screen (protocol/jitsi-dialect.md §3.3): the
// focus answered not-authorized because nobody signed in has started this
// meeting yet. The conference asks again by itself (access.ts,
// hostWaitDelay) and joins as soon as the host is there; this screen only
// says so, counts down to the next check and offers a way out.
import { clear, h } from "./dom";

export interface WaitingScreen {
  /** The next check is in `ms`. */
  update(ms: number): void;
  remove(): void;
}

export function showWaitingHost(root: HTMLElement, room: string, onLeave: () => void): WaitingScreen {
  clear(root);
  document.title = `Waiting for the host · ${room} · Parley`;
  const next = h("p", { class: "muted small", attrs: { id: "waiting-next", "aria-live": "off" } });
  const leave = h("button", { class: "btn btn-ghost", attrs: { type: "button", id: "waiting-leave" }, text: "Leave", on: { click: onLeave } });
  root.append(
    h(
      "main",
      { class: "notice waiting", attrs: { id: "waiting-host", "aria-busy": "true" } },
      h("div", { class: "spinner", attrs: { "aria-hidden": "true" } }),
      h("h1", { text: "Waiting for the host" }),
      h("p", { class: "waiting-room", text: room }),
      h("p", { class: "muted", attrs: { role: "status" }, text: "This meeting has not started yet. On this server only signed-in people can start meetings; you will join by yourself as soon as the host arrives." }),
      next,
      h("div", { class: "notice-actions" }, leave),
    ),
  );
  let timer: ReturnType<typeof setInterval> | undefined;
  return {
    update(ms: number) {
      clearInterval(timer);
      let left = Math.ceil(ms / 1000);
      const show = () => (next.textContent = left > 0 ? `Checking again in ${left} s` : "Checking…");
      show();
      timer = setInterval(() => {
        left--;
        show();
        if (left <= 0) clearInterval(timer);
      }, 1000);
    },
    remove() {
      clearInterval(timer);
    },
  };
}
