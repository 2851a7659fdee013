// The chat log of one conference: messages in arrival order and the unread
// count the chat button's badge shows.
import type { ChatMessage } from "./muc";

export interface LoggedMessage extends ChatMessage {
  mine: boolean;
}

export class ChatLog {
  readonly messages: LoggedMessage[] = [];
  unread = 0;
  private seen = new Set<string>();

  constructor(private limit = 500) {}

  /**
   * Adds a message; it counts as unread unless it is ours, from history,
   * or the panel is open. Returns false for a duplicate (same sender and id).
   */
  add(m: LoggedMessage, panelOpen: boolean): boolean {
    const key = m.id ? `${m.private ? "p" : "g"}:${m.from}:${m.to ?? ""}:${m.id}` : "";
    if (key) {
      if (this.seen.has(key)) return false;
      this.seen.add(key);
    }
    this.messages.push(m);
    if (this.messages.length > this.limit) this.messages.shift();
    if (!m.mine && !m.history && !panelOpen) this.unread++;
    return true;
  }

  markRead(): void {
    this.unread = 0;
  }
}
