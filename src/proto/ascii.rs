//! ASCII-mode (TYPE A) line-ending conversion for downloads and uploads.
//!
//! Owns: the byte transformation only, streamed chunk by chunk with the state that crosses
//! chunk boundaries. Whether TYPE A converts at all (ascii_download_enable,
//! ascii_upload_enable) is the caller's decision.
//! Trusts: nothing; upload data comes from the client and file data may be anything. Output
//! is at most twice the input (download) or no larger than the input plus one byte
//! (upload), so memory stays bounded by the caller's chunk size.
//! Run by: the transfer children of the post-login session.
//!
//! Download (`ToNetwork`): every LF not preceded by CR becomes CRLF; an existing CRLF is
//! left alone (no CRCRLF), also when the CR ends one chunk and the LF starts the next; a
//! lone CR is sent as is. This is what vsftpd 3.0.3 does (checked live: a file holding
//! `line2\r\n` came down as `line2\r\n`, and a CR/LF pair straddling vsftpd's 64 KiB read
//! buffer was not doubled). Older servers and clients that doubled existing CRs are a known
//! source of corrupted text files; rsftpd does not.
//! Upload (`FromNetwork`): CRLF becomes LF; a CR not followed by LF is kept, including one
//! at the very end of the upload (call `finish`). `\r\r\n` becomes `\r\n`. Same as vsftpd
//! 3.0.3, checked live with CR and LF arriving in separate TCP segments.

/// Download conversion (file to network): LF becomes CRLF unless already preceded by CR.
#[derive(Debug, Clone, Default)]
pub struct ToNetwork {
    prev_cr: bool,
}

/// Position of the first LF, scanning eight bytes at a time (a text file has one LF in
/// tens of bytes, so most words hold none).
fn find_lf(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const LFS: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    let mut i = 0;
    while i + 8 <= s.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        let x = u64::from_le_bytes(w) ^ LFS;
        // Some byte of x is zero (that byte was LF).
        if x.wrapping_sub(ONES) & !x & HIGHS != 0 {
            break;
        }
        i += 8;
    }
    s[i..].iter().position(|&b| b == b'\n').map(|p| p + i)
}

impl ToNetwork {
    pub fn new() -> Self {
        ToNetwork { prev_cr: false }
    }

    /// Converts one chunk, appending to `out`.
    pub fn convert(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + input.len() / 8);
        let mut start = 0;
        let mut from = 0;
        while let Some(p) = find_lf(&input[from..]) {
            let i = from + p;
            let preceded_by_cr = if i == 0 {
                self.prev_cr
            } else {
                input[i - 1] == b'\r'
            };
            if !preceded_by_cr {
                out.extend_from_slice(&input[start..i]);
                out.push(b'\r');
                start = i;
            }
            from = i + 1;
        }
        out.extend_from_slice(&input[start..]);
        if let Some(&last) = input.last() {
            self.prev_cr = last == b'\r';
        }
    }

    /// End of the file: nothing is held back in this direction, so this writes nothing; it
    /// exists so both directions are driven the same way.
    pub fn finish(&mut self, _out: &mut Vec<u8>) {
        self.prev_cr = false;
    }
}

/// Upload conversion (network to file): CRLF becomes LF, a lone CR is kept.
#[derive(Debug, Clone, Default)]
pub struct FromNetwork {
    /// A CR ended the previous chunk and has not been written yet: it is dropped if the next
    /// byte is LF, written otherwise.
    pending_cr: bool,
}

impl FromNetwork {
    pub fn new() -> Self {
        FromNetwork { pending_cr: false }
    }

    /// Converts one chunk, appending to `out`. A CR at the end of `input` is held back until
    /// the next chunk (or `finish`) shows whether an LF follows.
    pub fn convert(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + 1);
        let mut rest = input;
        if self.pending_cr {
            match rest.first() {
                None => return,
                Some(b'\n') => {}
                Some(_) => out.push(b'\r'),
            }
            self.pending_cr = false;
        }
        loop {
            match rest.iter().position(|&b| b == b'\r') {
                None => {
                    out.extend_from_slice(rest);
                    return;
                }
                Some(i) => {
                    out.extend_from_slice(&rest[..i]);
                    match rest.get(i + 1) {
                        None => {
                            self.pending_cr = true;
                            return;
                        }
                        Some(b'\n') => {}
                        Some(_) => out.push(b'\r'),
                    }
                    rest = &rest[i + 1..];
                }
            }
        }
    }

    /// End of the upload: writes a CR still held back (a file ending in a lone CR keeps it).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr {
            out.push(b'\r');
            self.pending_cr = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_lf_agrees_with_a_plain_scan() {
        let mut data = vec![b'x'; 300];
        for at in [0usize, 1, 7, 8, 9, 15, 16, 63, 64, 299] {
            let mut d = data.clone();
            d[at] = b'\n';
            for start in 0..20 {
                let want = d[start..].iter().position(|&b| b == b'\n');
                assert_eq!(find_lf(&d[start..]), want, "at {at} from {start}");
            }
        }
        assert_eq!(find_lf(b""), None);
        assert_eq!(find_lf(&data), None);
        data.extend_from_slice(&[0x8a, 0x0b, 0x09, 0xff, 0x00]);
        assert_eq!(find_lf(&data), None, "bytes near LF are not LF");
    }

    fn down(chunks: &[&[u8]]) -> Vec<u8> {
        let mut c = ToNetwork::new();
        let mut out = Vec::new();
        for ch in chunks {
            c.convert(ch, &mut out);
        }
        c.finish(&mut out);
        out
    }

    fn up(chunks: &[&[u8]]) -> Vec<u8> {
        let mut c = FromNetwork::new();
        let mut out = Vec::new();
        for ch in chunks {
            c.convert(ch, &mut out);
        }
        c.finish(&mut out);
        out
    }

    #[test]
    fn download_matches_vsftpd_303() {
        // Bytes observed from vsftpd 3.0.3 (ascii_download_enable=YES, TYPE A).
        assert_eq!(
            down(&[b"line1\nline2\r\nline3\n\nend"]),
            b"line1\r\nline2\r\nline3\r\n\r\nend"
        );
        assert_eq!(down(&[b"hello\n"]), b"hello\r\n");
    }

    #[test]
    fn download_basics() {
        assert_eq!(down(&[b""]), b"");
        assert_eq!(down(&[]), b"");
        assert_eq!(down(&[b"\n"]), b"\r\n");
        assert_eq!(down(&[b"\n\n"]), b"\r\n\r\n");
        assert_eq!(down(&[b"\r"]), b"\r");
        assert_eq!(down(&[b"a\rb"]), b"a\rb");
        assert_eq!(down(&[b"\r\n"]), b"\r\n");
        assert_eq!(down(&[b"\r\r\n"]), b"\r\r\n");
        assert_eq!(down(&[b"\n\r\n\n"]), b"\r\n\r\n\r\n");
        assert_eq!(down(&[b"no newline"]), b"no newline");
        assert_eq!(down(&[b"\xff\n\x00"]), b"\xff\r\n\x00");
    }

    #[test]
    fn download_across_chunks() {
        // CR at the end of one chunk, LF at the start of the next: not doubled.
        assert_eq!(down(&[b"a\r", b"\nb"]), b"a\r\nb");
        assert_eq!(down(&[b"a", b"\nb"]), b"a\r\nb");
        assert_eq!(down(&[b"a\r", b"", b"\nb"]), b"a\r\nb");
        assert_eq!(down(&[b"\r", b"\n", b"\n"]), b"\r\n\r\n");
        // The vsftpd buffer-boundary case, 64 KiB chunks.
        let mut file = vec![b'a'; 65535];
        file.extend_from_slice(b"\r\n");
        file.extend(std::iter::repeat(b'b').take(65535));
        file.extend_from_slice(b"\r\nc\n");
        let chunks: Vec<&[u8]> = file.chunks(65536).collect();
        let out = down(&chunks);
        assert_eq!(out.len(), file.len() + 1);
        assert!(!out.windows(3).any(|w| w == b"\r\r\n"));
        assert!(out.ends_with(b"\r\nc\r\n"));
    }

    #[test]
    fn download_chunking_never_matters() {
        let data: &[u8] = b"x\n\r\ny\r\r\n\n\rz\n\r";
        let whole = down(&[data]);
        for size in 1..data.len() {
            let chunks: Vec<&[u8]> = data.chunks(size).collect();
            assert_eq!(down(&chunks), whole, "chunk size {size}");
        }
    }

    #[test]
    fn upload_matches_vsftpd_303() {
        // Bytes vsftpd 3.0.3 wrote to disk for these TYPE A uploads.
        assert_eq!(up(&[b"a\r\nb\rc\r\r\nd\n\re\r"]), b"a\nb\rc\r\nd\n\re\r");
        assert_eq!(up(&[b"x\r", b"\ny\r", b"z\r"]), b"x\ny\rz\r");
    }

    #[test]
    fn upload_basics() {
        assert_eq!(up(&[b""]), b"");
        assert_eq!(up(&[b"\r\n"]), b"\n");
        assert_eq!(up(&[b"\n"]), b"\n");
        assert_eq!(up(&[b"\r"]), b"\r");
        assert_eq!(up(&[b"\r\r"]), b"\r\r");
        assert_eq!(up(&[b"\r\r\n"]), b"\r\n");
        assert_eq!(up(&[b"a\rb"]), b"a\rb");
        assert_eq!(up(&[b"\n\r"]), b"\n\r");
        assert_eq!(up(&[b"\xff\r\n\x00"]), b"\xff\n\x00");
    }

    #[test]
    fn upload_across_chunks() {
        assert_eq!(up(&[b"a\r", b"\nb"]), b"a\nb");
        assert_eq!(up(&[b"a\r", b"b"]), b"a\rb");
        assert_eq!(up(&[b"a\r", b"", b"\n"]), b"a\n");
        assert_eq!(up(&[b"\r", b"\r", b"\n"]), b"\r\n");
        // The held-back CR is not written until the next byte is known.
        let mut c = FromNetwork::new();
        let mut out = Vec::new();
        c.convert(b"abc\r", &mut out);
        assert_eq!(out, b"abc");
        c.finish(&mut out);
        assert_eq!(out, b"abc\r");
    }

    #[test]
    fn upload_chunking_never_matters() {
        let data: &[u8] = b"\rx\r\n\r\r\ny\n\r\r\rz\r\n\r";
        let whole = up(&[data]);
        for size in 1..data.len() {
            let chunks: Vec<&[u8]> = data.chunks(size).collect();
            assert_eq!(up(&chunks), whole, "chunk size {size}");
        }
    }

    #[test]
    fn round_trip_of_unix_text() {
        let text: &[u8] = b"one\ntwo\n\nthree\n";
        assert_eq!(up(&[&down(&[text])]), text);
    }
}
