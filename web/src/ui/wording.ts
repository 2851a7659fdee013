// Sentences the meeting shows that depend on state or on a browser error,
// kept apart from the DOM so the unit tests can read them.

/**
 * What the remove dialog says: removing is not a ban (conf.kick sets role
 * none), so they can come back by the way everyone else comes in: the
 * link, the password when the meeting is locked, the lobby when it is on.
 */
export function kickMessage(locked: boolean, lobbyOn: boolean): string {
  const back = locked && lobbyOn
    ? "if they know the password or a moderator lets them in from the lobby"
    : locked
      ? "if they know the meeting password"
      : lobbyOn
        ? "if a moderator lets them in from the lobby"
        : "with the meeting link";
  return `They leave the meeting at once. This is not a ban: they can join again ${back}.`;
}

/**
 * What a screen share that could not start tells the user, from the
 * error of getDisplayMedia (its raw text goes to the console, not the page).
 */
export function describeShareError(err: unknown): string {
  switch ((err as { name?: string } | null)?.name ?? "") {
    case "NotAllowedError":
    case "PermissionDeniedError":
    case "SecurityError":
      return "Screen sharing was blocked or cancelled.";
    case "NotFoundError":
      return "There is no screen or window to share.";
    case "NotReadableError":
    case "AbortError":
      return "Your screen could not be captured; the system or another application may be blocking it.";
    case "NotSupportedError":
    case "TypeError":
      return "This browser cannot share its screen here.";
    default:
      return "Screen sharing could not start.";
  }
}
