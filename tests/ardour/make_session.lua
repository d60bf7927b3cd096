-- Builds a session headless (Dummy backend): one MIDI track playing note 60 at 0 s into the Mellow
-- VST3; saves it. With MELLOW_SING=1 the plugin is in sing mode and the track plays a melody
-- instead (mellow_test_melody.lua). Ardour 7's Lua cannot set the session range:
-- .ci/ardour-export adds it to the saved file. Arguments come from the environment:
-- MELLOW_SESSION_DIR, MELLOW_SESSION_NAME, MELLOW_SING.
local dir = assert (os.getenv ("MELLOW_SESSION_DIR"))
local name = assert (os.getenv ("MELLOW_SESSION_NAME"))
local sing = os.getenv ("MELLOW_SING") == "1"
local rate = 48000

local backend = AudioEngine:set_backend ("None (Dummy)", "", "")
assert (backend, "the Dummy backend is missing (hide-dummy-backend must be 0)")

local s = create_session (dir, name, rate)
assert (s, "cannot create the session")

-- Sets the plugin parameter labelled `label` through its automation control (which is what moves
-- a plugin's parameter and has Ardour ask it for its latency again).
function set_parameter (proc, label, value)
	assert (not proc:isnil (), "no plugin on the track")
	local plugin = proc:to_insert ():plugin (0)
	for n = 0, plugin:parameter_count () - 1 do
		if plugin:parameter_is_control (n) and plugin:parameter_is_input (n)
			and plugin:parameter_label (n) == label then
			local control = proc:to_automatable ():automation_control (
				Evoral.Parameter (ARDOUR.AutomationType.PluginAutomation, 0, n), false)
			assert (not control:isnil (), "no control for " .. label)
			control:set_value (value, PBD.GroupControlDisposition.NoGroup)
			return
		end
	end
	error ("the plugin has no parameter " .. label)
end

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

	if sing then
		set_parameter (track:nth_plugin (0), "Sing mode", 1)
	end
	local script = sing and "Mellow test melody" or "Mellow test note"
	local note = ARDOUR.LuaAPI.new_luaproc (Session, script)
	assert (not note:isnil (), "the script " .. script .. " was not found")
	assert (track:add_processor_by_index (note, 0, nil, true) == 0, "cannot insert " .. script)
end
add_track ()
collectgarbage ()
-- A parameter set from here reaches a VST3 in the engine's next cycles: let them run before the
-- plugin's own state is saved with the session, or it may still hold the old value.
ARDOUR.LuaAPI.usleep (300000)
Session:save_state ("", false, false, false, false, false)
print ("saved " .. dir)

close_session ()
quit ()
