-- Builds a session headless (Dummy backend): one MIDI track playing note 60 at 0 s into the Mellow
-- VST3; saves it. Ardour 7's Lua cannot set the session range: .ci/ardour-export adds it to the
-- saved file. Arguments come from the environment: MELLOW_SESSION_DIR, MELLOW_SESSION_NAME.
local dir = assert (os.getenv ("MELLOW_SESSION_DIR"))
local name = assert (os.getenv ("MELLOW_SESSION_NAME"))
local rate = 48000

local backend = AudioEngine:set_backend ("None (Dummy)", "", "")
assert (backend, "the Dummy backend is missing (hide-dummy-backend must be 0)")

local s = create_session (dir, name, rate)
assert (s, "cannot create the session")

-- In a function, so that no Lua reference keeps the track alive past close_session() (Ardour
-- would then tear it down after its engine and crash on exit).
local function add_track ()
	local mellow = ARDOUR.LuaAPI.new_plugin_info ("Mellow", ARDOUR.PluginType.VST3)
	assert (not mellow:isnil (), "Ardour does not know the Mellow VST3: scan it first")

	local tracks = Session:new_midi_track (ARDOUR.ChanCount (ARDOUR.DataType ("midi"), 1),
		ARDOUR.ChanCount (ARDOUR.DataType ("audio"), 2), true, mellow, nil, nil, 1, "Mellow",
		ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true)
	assert (tracks:size () == 1, "no track was made")
	local track = tracks:front ()

	local note = ARDOUR.LuaAPI.new_luaproc (Session, "Mellow test note")
	assert (not note:isnil (), "the test-note script was not found")
	assert (track:add_processor_by_index (note, 0, nil, true) == 0, "cannot insert the test note")
end
add_track ()
collectgarbage ()
Session:save_state ("", false, false, false, false, false)
print ("saved " .. dir)

close_session ()
quit ()
