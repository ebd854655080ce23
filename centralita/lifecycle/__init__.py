"""Chat lifecycle: closing (with the closing message), unanswered alerts, automatic close, PDF
transcripts. Closing is shared by every path: an agent, a supervisor, a timer, the bot."""
