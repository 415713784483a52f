-- Where the transcription service put a recording's transcript, when its callback says
-- (`url`): shown to the recording's owners.
ALTER TABLE recordings ADD COLUMN transcript_url TEXT NULL;
