// The server's client configuration, GET /config.json: the subset of
// Jitsi's config.js fields a client needs to connect (protocol/jitsi-dialect.md §1.3).

export interface ServerConfig {
  hosts: { domain: string; muc: string; focus: string };
  websocket: string;
  enableWebsocketResume?: boolean;
}

export function parseConfig(v: unknown): ServerConfig {
  const c = v as Partial<ServerConfig> | null;
  const h = c?.hosts;
  if (!h || typeof h.domain !== "string" || typeof h.muc !== "string" || typeof c?.websocket !== "string") {
    throw new Error("config.json lacks hosts.domain, hosts.muc or websocket");
  }
  return {
    hosts: { domain: h.domain, muc: h.muc, focus: typeof h.focus === "string" ? h.focus : "focus." + h.domain },
    websocket: c.websocket,
    enableWebsocketResume: c.enableWebsocketResume !== false,
  };
}

export async function loadConfig(fetcher: typeof fetch = fetch): Promise<ServerConfig> {
  const r = await fetcher("/config.json", { cache: "no-store" });
  if (!r.ok) throw new Error(`config.json: HTTP ${r.status}`);
  return parseConfig(await r.json());
}
