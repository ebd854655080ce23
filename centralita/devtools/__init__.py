"""Development and test tools: never imported by the running application.

- `fake_twilio`: a local Twilio-compatible Messages API (app factory, `FakeTwilio` controller,
  control API, `python -m` entry point); its memory and callback worker are in
  `fake_twilio_state`.
- `twilio_inbound`: inbound webhooks as Twilio sends them (parameters, signature, POST).
- `server`: run any WSGI app in a background thread on a free local port.
"""
