"""Development and test tools: never imported by the running application.

- `fake_twilio`: a local Twilio-compatible Messages API that records requests, follows scripts
  per recipient and posts signed status callbacks; also signed inbound webhooks.
- `server`: run any WSGI app in a background thread on a free local port.
"""
