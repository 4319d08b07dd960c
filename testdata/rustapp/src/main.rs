//! rustapp is bpm's Rust test fixture: one std-only binary whose behaviour is chosen
//! by environment variables (see testdata/README.md), so tests need a single crate.
//!
//! On SIGTERM it stops accepting, lets in-flight connections finish (at most
//! 5 s) and exits 0, as an app behind a socket hand-off should. std has no
//! signal API, so the handler is installed through libc's `signal`, which std
//! links anyway.

use std::env;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::FromRawFd;
use std::process;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Set by the SIGTERM handler.
static TERM: AtomicBool = AtomicBool::new(false);
/// Connections accepted and not yet closed.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
const SIGTERM: i32 = 15;

extern "C" {
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
}

extern "C" fn on_term(_: i32) {
    TERM.store(true, Ordering::SeqCst);
}

/// Exit code used when FIXTURE_EXIT_AFTER_MS elapses.
const EXIT_AFTER_CODE: i32 = 3;
/// Exit code used when a FIXTURE_* value or the listener is unusable.
const SETUP_FAILED_CODE: i32 = 4;

fn main() {
    let pid = process::id();
    let mode = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    say(&format!("rustapp started pid={pid} mode={mode}"));
    let _ = writeln!(io::stderr(), "rustapp stderr hello");

    if let Ok(v) = env::var("FIXTURE_ECHO") {
        say(&format!("echo={v}"));
    }
    if let Some(listener) = listener(pid) {
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| "?".into());
        say(&format!("rustapp listening addr={addr}"));
        let delay = Duration::from_millis(env_ms("FIXTURE_DELAY_MS").unwrap_or(0));
        thread::spawn(move || serve(listener, pid, delay));
    }
    if let Some(ms) = env_ms("FIXTURE_TICK_MS") {
        thread::spawn(move || tick(ms));
    }
    if let Some(ms) = env_ms("FIXTURE_EXIT_AFTER_MS") {
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(ms));
            say(&format!("rustapp exiting code={EXIT_AFTER_CODE}"));
            process::exit(EXIT_AFTER_CODE);
        });
    }
    // SAFETY: on_term only stores to an atomic, which is async-signal-safe.
    unsafe {
        signal(SIGTERM, on_term);
    }
    while !TERM.load(Ordering::SeqCst) {
        thread::sleep(Duration::from_millis(5));
    }
    say("rustapp SIGTERM: shutting down");
    let deadline = Instant::now() + Duration::from_secs(5);
    while IN_FLIGHT.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(2));
    }
    say("rustapp stopped");
}

/// say writes one stdout line; a closed stdout must not panic the fixture.
fn say(line: &str) {
    let _ = writeln!(io::stdout(), "{line}");
}

fn fail(msg: &str) -> ! {
    let _ = writeln!(io::stderr(), "rustapp: {msg}");
    process::exit(SETUP_FAILED_CODE);
}

fn env_ms(key: &str) -> Option<u64> {
    let v = env::var(key).ok()?;
    match v.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Some(ms),
        _ => fail(&format!(
            "{key}={v:?} is not a positive number of milliseconds"
        )),
    }
}

/// listener takes the inherited fd 3 when LISTEN_FDS=1 (systemd socket activation),
/// else binds FIXTURE_LISTEN, else returns None.
fn listener(pid: u32) -> Option<TcpListener> {
    if env::var("LISTEN_FDS").as_deref() == Ok("1") {
        // systemd semantics: the fds are meant for LISTEN_PID only.
        if let Ok(p) = env::var("LISTEN_PID") {
            if p != pid.to_string() {
                fail(&format!(
                    "LISTEN_PID={p} is not my pid {pid}; refusing fd 3"
                ));
            }
        }
        // SAFETY: with LISTEN_FDS=1 the parent hands us fd 3 as a listening socket
        // and nothing else in this process owns it.
        let l = unsafe { TcpListener::from_raw_fd(3) };
        // O_NONBLOCK lives on the socket shared with bpm and every other run; Go and
        // Node set it, so set it here too rather than fight them (see serve).
        if let Err(e) = l.set_nonblocking(true) {
            fail(&format!("inherited fd 3: {e}"));
        }
        return Some(l);
    }
    let addr = env::var("FIXTURE_LISTEN").ok()?;
    match TcpListener::bind(&addr) {
        Ok(l) => Some(l),
        Err(e) => fail(&format!("listen {addr}: {e}")),
    }
}

fn tick(ms: u64) {
    let mut n: u64 = 0;
    loop {
        thread::sleep(Duration::from_millis(ms));
        n += 1;
        say(&format!("tick {n}"));
    }
}

fn serve(listener: TcpListener, pid: u32, delay: Duration) {
    // Non-blocking, so the loop sees SIGTERM and stops accepting.
    if let Err(e) = listener.set_nonblocking(true) {
        fail(&format!("listener: {e}"));
    }
    while !TERM.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
                thread::spawn(move || {
                    let _ = stream.set_nonblocking(false);
                    let _ = handle(stream, pid, delay);
                    IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
                });
            }
            // A non-blocking listener has no connection yet; std has no poll(),
            // so look again shortly.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(2));
            }
            Err(e) => {
                let _ = writeln!(io::stderr(), "rustapp: accept: {e}");
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// handle answers every request on one connection with 200 and `pid=<pid>\n`,
/// after `delay`, keeping HTTP/1.1 connections alive unless the client asks to
/// close or SIGTERM came.
fn handle(stream: TcpStream, pid: u32, delay: Duration) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    let body = format!("pid={pid}\n");
    let mut served = 0;
    loop {
        // The first request was sent with the connect: wait for it even after
        // SIGTERM. A later one may never come: give up on SIGTERM.
        if served > 0 && !await_request(&mut reader)? {
            return Ok(());
        }
        served += 1;
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut keep_alive = request_line.trim_end().ends_with("HTTP/1.1");
        let mut content_length: u64 = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("connection") {
                keep_alive = !value.eq_ignore_ascii_case("close")
                    && (keep_alive || value.eq_ignore_ascii_case("keep-alive"));
            }
        }
        io::copy(&mut (&mut reader).take(content_length), &mut io::sink())?;
        thread::sleep(delay);
        keep_alive = keep_alive && !TERM.load(Ordering::SeqCst);
        let connection = if keep_alive { "keep-alive" } else { "close" };
        // One write: several small ones meet Nagle and delayed ACKs (40 ms each).
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n{body}",
            body.len()
        );
        out.write_all(response.as_bytes())?;
        if !keep_alive {
            return Ok(());
        }
    }
}

/// await_request waits for the next request on an idle keep-alive connection;
/// false when the client closed it or SIGTERM came first.
fn await_request(reader: &mut BufReader<TcpStream>) -> io::Result<bool> {
    reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(50)))?;
    let arrived = loop {
        match reader.fill_buf() {
            Ok(buf) => break !buf.is_empty(),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if TERM.load(Ordering::SeqCst) {
                    break false;
                }
            }
            Err(e) => return Err(e),
        }
    };
    reader.get_ref().set_read_timeout(None)?;
    Ok(arrived)
}
