// STUN and TURN servers from XEP-0215 external service discovery, as
// Jitsi's client asks for them after login (protocol/jitsi-dialect.md §7.1):
// urn:xmpp:extdisco:2 to the domain; each service becomes an RTCIceServer
// (`stun:host:port`, `turn[s]:host:port[?transport=tcp]` with the
// short-lived REST credentials).
import { xml, type Element } from "@xmpp/xml";

export const NS_EXTDISCO = "urn:xmpp:extdisco:2";
/** Parley's region hint inside <services/>: a cluster answers with the TURN servers of that region. */
export const NS_REGION = "urn:parley:region:0";

/**
 * The request for the domain's external services; `region` (the meeting
 * URL's ?region=) asks for the TURN servers of that region.
 */
export function servicesRequest(domain: string, region?: string): Element {
  return xml("iq", { type: "get", to: domain }, xml("services", { xmlns: NS_EXTDISCO }, region ? xml("region", { xmlns: NS_REGION }, region) : null));
}

/**
 * The region the meeting URL names (?region=NAME): letters, digits, '-',
 * '_' or '.', at most 64; anything else is no region. It picks the bridge
 * (<jitsi_participant_region/> in the join presence) and the TURN servers.
 */
export function regionFromSearch(search: string): string | undefined {
  const r = new URLSearchParams(search).get("region") ?? "";
  return /^[A-Za-z0-9._-]{1,64}$/.test(r) ? r : undefined;
}

/** RTCIceServers from a <services/> result; unknown types are skipped. */
export function iceServersFrom(result: Element): RTCIceServer[] {
  const services = result.getChild("services", NS_EXTDISCO);
  if (!services) return [];
  const out: RTCIceServer[] = [];
  for (const s of services.getChildren("service")) {
    const type = s.attrs.type;
    const host = s.attrs.host;
    const port = Number(s.attrs.port);
    if (!host || !Number.isInteger(port) || port <= 0 || port > 65535 || /[\s/?#@]/.test(host)) continue;
    const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
    if (type === "stun") {
      out.push({ urls: `stun:${h}:${port}` });
    } else if (type === "turn" || type === "turns") {
      const transport = s.attrs.transport && s.attrs.transport !== "udp" ? `?transport=${s.attrs.transport}` : "";
      out.push({ urls: `${type}:${h}:${port}${transport}`, username: s.attrs.username ?? "", credential: s.attrs.password ?? "" });
    }
  }
  return out;
}
