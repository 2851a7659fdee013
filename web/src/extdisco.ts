// STUN and TURN servers from XEP-0215 external service discovery, as
// Jitsi's client asks for them after login (protocol/jitsi-dialect.md §7.1):
// urn:xmpp:extdisco:2 to the domain; each service becomes an RTCIceServer
// (`stun:host:port`, `turn[s]:host:port[?transport=tcp]` with the
// short-lived REST credentials).
import { xml, type Element } from "@xmpp/xml";

export const NS_EXTDISCO = "urn:xmpp:extdisco:2";

/** The request for the domain's external services. */
export function servicesRequest(domain: string): Element {
  return xml("iq", { type: "get", to: domain }, xml("services", { xmlns: NS_EXTDISCO }));
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
