-- mod_auth_anonymous_previd: SASL ANONYMOUS that gives a reconnecting client
-- its old anonymous username when the WebSocket URL names the session it
-- wants to resume (?previd=<XEP-0198 id>), as Jitsi's Prosody plugins do for
-- lib-jitsi-meet. Without it a resuming guest would authenticate as a new
-- random user, and mod_smacks refuses to resume another user's session.
--
-- Used only by dev-prosody.sh (authentication = "anonymous_previd").

local new_sasl = require "util.sasl".new;
local http = require "util.http";

local host_sessions = prosody.hosts[module.host].sessions;

local provider = {};

function provider.test_password() return nil, "Password based auth not supported."; end
function provider.get_password() return nil, "Password not available."; end
function provider.set_password() return nil, "Password based auth not supported."; end
function provider.user_exists() return nil, "Only anonymous users are supported."; end
function provider.create_user() return nil, "Account creation/modification not supported."; end
function provider.users() return next, host_sessions, nil; end

-- The username owning the stream-management session `previd`, if any.
local function owner_of(previd)
	for username, user in pairs(host_sessions) do
		for _, s in pairs(user.sessions or {}) do
			if s.resumption_token == previd then
				return username;
			end
		end
	end
end

local function previd_of(session)
	local request = session and session.websocket_request;
	local query = request and request.url and request.url.query;
	if not query then return nil; end
	return http.formdecode(query).previd;
end

function provider.get_sasl_handler(session)
	local handler = new_sasl(module.host, {
		anonymous = function() return true; end;
	});
	local process = handler.process;
	function handler:process(message)
		local status, ret, err = process(self, message);
		if status == "success" then
			local previd = previd_of(session);
			local username = previd and owner_of(previd);
			if username then
				module:log("debug", "previd %s: reusing anonymous user %s", previd, username);
				self.username = username;
			end
		end
		return status, ret, err;
	end
	return handler;
end

module:provides("auth", provider);
