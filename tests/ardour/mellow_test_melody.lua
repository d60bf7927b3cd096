ardour {
	["type"]    = "dsp",
	name        = "Mellow test melody",
	category    = "Utility",
	license     = "GPL-3.0-or-later",
	author      = "Mellow",
	description = [[Plays a short melody while the transport rolls (C3 at 0.3 s, G3 at 1.3 s, C4 at
2.3 s, each half a second long): for the export test of the Mellow instrument in sing mode,
where a headless session cannot create a MIDI region from Lua. tests/ardour/check_sung.py knows
the same notes.]]
}

function dsp_ioconfig ()
	return { { midi_in = 1, midi_out = 1, audio_in = 0, audio_out = 0 } }
end

local rate = 48000
-- key, note-on and note-off in seconds
local notes = { { 48, 0.3, 0.8 }, { 55, 1.3, 1.8 }, { 60, 2.3, 2.8 } }

function dsp_init (sample_rate)
	rate = sample_rate
end

function dsp_run (_, _, n_samples)
	assert (type (midiout) == "table")
	if not Session:transport_rolling () then return end
	local start = Session:transport_sample ()
	local n = 1
	-- event times count from 1 within the cycle; offs before ons at the same time
	for _, kind in ipairs ({ { 3, 0x80, 0 }, { 2, 0x90, 100 } }) do
		for _, note in ipairs (notes) do
			local at = math.floor (note[kind[1]] * rate + 0.5)
			if start <= at and at < start + n_samples then
				midiout[n] = { time = at - start + 1, data = { kind[2], note[1], kind[3] } }
				n = n + 1
			end
		end
	end
end
