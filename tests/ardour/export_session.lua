-- Loads the test session and exports its range at once, with no warm-up, through
-- Session:simple_export() (the "WAV @ session-rate" preset) into MELLOW_SESSION_DIR/lua-export.wav.
local dir = assert (os.getenv ("MELLOW_SESSION_DIR"))
local name = assert (os.getenv ("MELLOW_SESSION_NAME"))

assert (AudioEngine:set_backend ("None (Dummy)", "", ""), "the Dummy backend is missing")
assert (load_session (dir, name), "cannot load the session")

-- In a function, so that no Lua reference to the export outlives close_session().
local function export ()
	local e = Session:simple_export ()
	e:set_name ("lua-export")
	e:set_folder (dir)
	assert (e:set_preset ("75969a1c-3133-4694-864b-a1fa50e43348"), "no WAV export preset")
	assert (e:run_export (), "the export failed")
end
export ()
collectgarbage ()
print ("exported " .. dir .. "/lua-export.wav")

close_session ()
quit ()
