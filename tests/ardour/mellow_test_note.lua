ardour {
	["type"]    = "dsp",
	name        = "Mellow test note",
	category    = "Utility",
	license     = "GPL-3.0-or-later",
	author      = "Mellow",
	description = [[Plays MIDI note 60 from session time 0 to 2 s while the transport rolls: a MIDI
region a headless session cannot create from Lua, for the export test of the Mellow instrument.]]
}

function dsp_ioconfig ()
	return { { midi_in = 1, midi_out = 1, audio_in = 0, audio_out = 0 } }
end

local rate = 48000

function dsp_init (sample_rate)
	rate = sample_rate
end

function dsp_run (_, _, n_samples)
	assert (type (midiout) == "table")
	if not Session:transport_rolling () then return end
	local start = Session:transport_sample ()
	local off = 2 * rate
	local n = 1
	-- event times count from 1 within the cycle
	if start <= 0 and 0 < start + n_samples then
		midiout[n] = { time = 1 - start, data = { 0x90, 60, 100 } }
		n = n + 1
	end
	if start <= off and off < start + n_samples then
		midiout[n] = { time = off - start + 1, data = { 0x80, 60, 0 } }
	end
end
