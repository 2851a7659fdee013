// The subset of @xmpp/client and @xmpp/xml (ltx elements) that the client
// uses; the packages ship no type declarations.

declare module "@xmpp/xml" {
  export type Child = Element | string;
  export class Element {
    constructor(name: string, attrs?: Record<string, string | undefined>);
    name: string;
    attrs: Record<string, string | undefined>;
    children: Child[];
    parent: Element | null;
    is(name: string, xmlns?: string): boolean;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildElements(): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
    getNS(): string | undefined;
    append(...children: Child[]): Element;
    toString(): string;
  }
  export function xml(name: string, attrs?: Record<string, string | number | boolean | undefined> | null, ...children: (Child | Child[] | undefined | null | false)[]): Element;
  export default xml;
}

declare module "@xmpp/xml/lib/parse.js" {
  import type { Element } from "@xmpp/xml";
  export default function parse(s: string): Element;
}

declare module "@xmpp/client" {
  import type { Element } from "@xmpp/xml";
  export { xml } from "@xmpp/xml";

  export interface JID {
    local: string;
    domain: string;
    resource: string;
    toString(): string;
    bare(): JID;
  }

  export interface StanzaError extends Error {
    condition: string;
    text?: string;
    type?: string;
    element?: Element;
  }

  type Listener = (...args: any[]) => void;

  export interface StreamManagement {
    id: string;
    enabled: boolean;
    timeout: number;
    requestAckInterval: number;
    on(event: "resumed" | "ack" | "fail", fn: Listener): void;
  }

  export interface Client {
    status: string;
    jid: JID | null;
    options: { service: string; domain: string };
    on(event: string, fn: Listener): void;
    off(event: string, fn: Listener): void;
    removeListener(event: string, fn: Listener): void;
    start(): Promise<JID>;
    stop(): Promise<unknown>;
    disconnect(): Promise<unknown>;
    send(el: Element): Promise<void>;
    iqCaller: { request(el: Element, timeout?: number): Promise<Element> };
    iqCallee: {
      get(ns: string, name: string, fn: (ctx: { stanza: Element; element: Element }) => Element | object | undefined): void;
      set(ns: string, name: string, fn: (ctx: { stanza: Element; element: Element }) => Element | object | undefined): void;
    };
    reconnect: { delay: number; start(): void; stop(): void; on(event: string, fn: Listener): void };
    streamManagement: StreamManagement;
    socket?: { socket?: { close?: () => void; readyState?: number } };
    /** Writes raw text to the socket (Connection.write in @xmpp/connection). */
    write(s: string): Promise<void>;
  }

  export function client(options: { service: string; domain: string; resource?: string; credentials?: unknown; username?: string; password?: string }): Client;
}
