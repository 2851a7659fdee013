// The moderator's controls in the meeting: a toolbar menu to turn the lobby
// on or off (§4.5), mute everyone (§4.7), moderate microphones (§4.8) and
// end the meeting for everyone (Jitsi's end_conference component), the card
// of people knocking (ui/lobby.ts), and "Make moderator" and "Allow to
// speak" for a tile's menu (§4.6, §4.8). Shown to moderators only; the
// server checks every request again. The toasts that say what AV
// moderation means for a participant are here too.
import type { Conference, Participant } from "../conference";
import { confirm } from "./dialog";
import { h, icon } from "./dom";
import { knockList } from "./lobby";
import { menuButton, type MenuItem } from "./menu";
import { toast } from "./toast";
import { t } from "../i18n";

export interface ModerationControls {
  /** The toolbar's moderation menu (hidden for non-moderators). */
  button: HTMLElement;
  /** The card of people knocking. */
  knockCard: HTMLElement;
  /** The top bar's "Lobby" badge, shown to everyone while the lobby is on. */
  lobbyBadge: HTMLElement;
  /** Items for a participant's tile menu. */
  tileItems(p: Participant, name: string): MenuItem[];
  teardown(): void;
}

/** Items other parts add to the moderation menu (ui/e2ee.ts), asked each time it renders. */
const extraItems = new Set<() => MenuItem[]>();

/** Adds items to the moderation menu; returns their removal. */
export function addModerationItems(fn: () => MenuItem[]): () => void {
  extraItems.add(fn);
  return () => extraItems.delete(fn);
}

export function moderationControls(conf: Conference): ModerationControls {
  const wrap = h("div", { class: "toolbar-menu", attrs: { id: "moderation" } });
  const lobbyBadge = h("span", { class: "badge badge-lobby", attrs: { id: "lobby-state", title: t("lobby.badgeTitle") } }, icon("shield"), h("span", { text: t("lobby.badge") }));
  let open = false;
  const act = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      toast((err as Error).message, "error", 6000);
    }
  };
  const items = (): MenuItem[] => {
    const out: MenuItem[] = [
      {
        label: conf.lobbyOn ? t("mod.lobbyOff") : t("mod.lobbyOn"),
        action: "lobby",
        run: () =>
          act(async () => {
            const on = !conf.lobbyOn;
            await conf.setLobby(on);
            toast(on ? t("mod.lobbyIsOn") : t("mod.lobbyIsOff"));
          }),
      },
      { label: t("people.muteEveryone"), action: "mute-all", run: () => muteEveryone(conf) },
    ];
    if (conf.components.has("av_moderation")) {
      out.push({
        label: conf.micModerated ? t("mod.stopModeratingMics") : t("mod.moderateMics"),
        action: "av-audio",
        run: () => act(() => conf.setMicModeration(!conf.micModerated)),
      });
    }
    if (conf.canEndForAll) out.push({ label: t("people.endForAll"), action: "end-all", run: () => void endForAll(conf) });
    for (const f of extraItems) out.push(...f());
    return out;
  };
  const render = () => {
    wrap.hidden = !conf.isModerator;
    lobbyBadge.hidden = !conf.lobbyOn;
    const [button, menu] = menuButton({
      label: t("mod.menu"),
      items: items(),
      open,
      onOpen: () => {
        open = true;
        render();
        menu.querySelector<HTMLButtonElement>("button")?.focus();
      },
      onClose: (refocus) => {
        open = false;
        render();
        if (refocus) wrap.querySelector<HTMLButtonElement>("#moderate")?.focus();
      },
    });
    button.className = "btn btn-round";
    button.id = "moderate";
    button.title = t("mod.menu");
    button.replaceChildren(icon("shield"));
    wrap.replaceChildren(button, menu);
  };
  const onDocClick = (ev: MouseEvent) => {
    if (open && !wrap.contains(ev.target as Node)) {
      open = false;
      render();
    }
  };
  document.addEventListener("click", onDocClick);
  const [knockCard, offKnock] = knockList(conf);
  const cap = (x: string) => x.charAt(0).toUpperCase() + x.slice(1);
  const onAV = (what: string, actor: string) => {
    if (what === "enabled") toast(conf.isModerator ? t("mod.micsModeratedYou") : t("mod.micsModeratedBy", { actor: cap(actor) }), "info", 6000);
    else if (what === "disabled") toast(t("mod.micsFree"));
    else if (what === "approved") toast(t("mod.allowedYou", { actor: cap(actor) }), "info", 6000);
  };
  const offs = [conf.on("room", render), conf.on("local", render), conf.on("lobby", render), conf.on("avModeration", onAV), offKnock];
  render();
  return {
    button: wrap,
    knockCard,
    lobbyBadge,
    tileItems(p, name) {
      if (!conf.isModerator || p.local || p.role === "moderator") return [];
      const out: MenuItem[] = [];
      if (conf.micModerated && !conf.micAllowed.has(p.id)) {
        out.push({ label: t("mod.allowToSpeak"), action: "allow-audio", run: () => act(async () => {
          await conf.allowToSpeak(p.id);
          toast(t("mod.mayUnmute", { name }));
        }) });
      }
      if (p.jid) {
        out.push({ label: t("mod.makeModerator"), action: "grant", run: () => grantModerator(conf, p.id, name) });
      }
      return out;
    },
    teardown() {
      document.removeEventListener("click", onDocClick);
      offs.forEach((f) => f());
    },
  };
}

/** Mutes every other participant (moderators; the menu's and the participants panel's), saying how many. */
export async function muteEveryone(conf: Conference): Promise<void> {
  try {
    const n = await conf.muteEveryone();
    toast(n === 0 ? t("mod.allMuted") : t("mod.muted", { count: n }));
  } catch (err) {
    toast((err as Error).message, "error", 6000);
  }
}

/** Ends the meeting for everyone once confirmed (moderators, where the server can). */
export async function endForAll(conf: Conference): Promise<void> {
  const yes = await confirm({
    id: "end-dialog",
    title: t("mod.endTitle"),
    message: t("mod.endText"),
    confirm: t("mod.endConfirm"),
    cancel: t("common.cancel"),
    danger: true,
  });
  if (!yes) return;
  try {
    await conf.endForAll();
  } catch (err) {
    toast((err as Error).message, "error", 6000);
  }
}

/** Makes a participant a moderator (a tile's menu, the participants panel). */
export async function grantModerator(conf: Conference, id: string, name: string): Promise<void> {
  try {
    await conf.grantModerator(id);
    toast(t("mod.madeModerator", { name }));
  } catch (err) {
    toast((err as Error).message, "error", 6000);
  }
}
