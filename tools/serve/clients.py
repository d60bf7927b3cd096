"""`mellow serve` against the clients people use, none of them ours: the official `openai`
package (`audio.speech.create`, whole and streamed) and the `wyoming` package Home Assistant
uses (one-shot and streaming synthesis). Exits non-zero on the first thing that is wrong.

    python tools/serve/clients.py --http 127.0.0.1:8080 --wyoming 127.0.0.1:10200
"""
import argparse
import asyncio
import io
import struct
import sys
import time
import wave


def rms16(pcm: bytes) -> float:
    n = len(pcm) // 2
    if n == 0:
        return 0.0
    samples = struct.unpack(f"<{n}h", pcm[: 2 * n])
    return (sum(s * s for s in samples) / n) ** 0.5 / 32768


def check(condition, message):
    if not condition:
        print("FAIL:", message)
        sys.exit(1)
    print("ok:", message)


def openai_checks(http):
    from openai import OpenAI

    client = OpenAI(base_url=f"http://{http}/v1", api_key="not-needed")
    whole = client.audio.speech.create(model="tts-1", voice="alloy", input="Hello from the OpenAI client.", response_format="wav")
    data = whole.read()
    # A streamed WAV says "as long as it goes" in its header; the samples follow it.
    check(data[:4] == b"RIFF" and data[8:12] == b"WAVE", "openai: the wav response is a WAV stream")
    pcm = data[44:]
    check(len(pcm) / 2 / 24000 > 0.8, f"openai: {len(pcm) / 48000:.2f} s of audio")
    check(rms16(pcm) > 0.01, "openai: the audio is not silent")

    started = time.monotonic()
    first = None
    total = 0
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="nova", input="One sentence. " * 6, response_format="pcm"
    ) as response:
        for chunk in response.iter_bytes(4096):
            if first is None:
                first = time.monotonic() - started
            total += len(chunk)
    elapsed = time.monotonic() - started
    check(first is not None and first < elapsed / 2, f"openai streaming: first bytes after {first:.3f} s of {elapsed:.3f} s")
    check(total / 48000 > 3.0, f"openai streaming: {total / 48000:.2f} s of pcm")

    try:
        client.audio.speech.create(model="tts-1", voice="nobody", input="x")
        check(False, "openai: an unknown voice is refused")
    except Exception as e:  # openai.BadRequestError
        check("400" in str(e) or getattr(e, "status_code", 0) == 400, f"openai: an unknown voice is a 400 ({type(e).__name__})")


async def wyoming_checks(address):
    from wyoming.audio import AudioChunk, AudioStart, AudioStop
    from wyoming.client import AsyncTcpClient
    from wyoming.info import Describe, Info
    from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped, SynthesizeVoice

    host, port = address.rsplit(":", 1)
    async with AsyncTcpClient(host, int(port)) as client:
        await client.write_event(Describe().event())
        info = Info.from_event(await client.read_event())
        tts = info.tts[0]
        check(tts.supports_synthesize_streaming and tts.voices, f"wyoming: info lists {len(tts.voices)} voice(s), streaming supported")
        voice = tts.voices[0].name

        await client.write_event(Synthesize(text="Hello from Wyoming.", voice=SynthesizeVoice(name=voice)).event())
        start = AudioStart.from_event(await client.read_event())
        audio = b""
        while True:
            event = await client.read_event()
            if AudioStop.is_type(event.type):
                break
            audio += AudioChunk.from_event(event).audio
        check(start.width == 2 and start.channels == 1, f"wyoming: audio-start {start.rate} Hz, 16-bit mono")
        check(len(audio) / 2 / start.rate > 0.8 and rms16(audio) > 0.01, f"wyoming: {len(audio) / 2 / start.rate:.2f} s of audio")

        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name=voice)).event())
        for piece in ["This text arrives ", "in pieces. The first ", "sentence speaks before ", "the last arrives."]:
            await client.write_event(SynthesizeChunk(text=piece).event())
        await client.write_event(Synthesize(text="This text arrives in pieces. The first sentence speaks before the last arrives.").event())
        await client.write_event(SynthesizeStop().event())
        kinds, audio = [], b""
        while True:
            event = await client.read_event()
            kinds.append(event.type)
            if AudioChunk.is_type(event.type):
                audio += AudioChunk.from_event(event).audio
            if SynthesizeStopped.is_type(event.type):
                break
        check(kinds[0] == "audio-start" and kinds[-2:] == ["audio-stop", "synthesize-stopped"], "wyoming streaming: audio-start … audio-stop, synthesize-stopped")
        check(len(audio) / 2 / start.rate > 3.0, f"wyoming streaming: {len(audio) / 2 / start.rate:.2f} s of audio")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--http", required=True)
    ap.add_argument("--wyoming", required=True)
    args = ap.parse_args()
    openai_checks(args.http)
    asyncio.run(wyoming_checks(args.wyoming))
    print("all client checks passed")


if __name__ == "__main__":
    main()
