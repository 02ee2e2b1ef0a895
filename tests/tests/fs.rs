//! `brisk::fs` on a temporary directory, on the real runtime: whole-file helpers, directory
//! operations, `read_dir` across several batches, `File` reads, writes and seeks, and the
//! errors (missing file, existing file, invalid UTF-8, writing a read-only file).

use std::io::{self, SeekFrom};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use brisk::fs::{self, File};
use brisk::io::{AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufReader};
use brisk::stream::StreamExt;
use brisk_tests::with_watchdog;

fn run<F: std::future::Future<Output = ()> + Send + 'static>(name: &'static str, fut: F) {
    with_watchdog(Duration::from_secs(60), name, move || {
        let rt = brisk::Runtime::builder().worker_threads(2).build().unwrap();
        rt.block_on(fut)
    })
}

/// A fresh directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "brisk-fs-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn whole_file_helpers_and_their_errors() {
    let dir = TempDir::new("whole");
    let d = dir.0.clone();
    run("fs whole", async move {
        let p = d.join("a.txt");
        fs::write(&p, "hello brisk").await.unwrap();
        assert_eq!(fs::read(&p).await.unwrap(), b"hello brisk");
        assert_eq!(fs::read_to_string(&p).await.unwrap(), "hello brisk");
        assert_eq!(fs::metadata(&p).await.unwrap().len(), 11);
        assert!(fs::try_exists(&p).await.unwrap());

        let missing = d.join("missing.txt");
        for err in [
            fs::read(&missing).await.unwrap_err(),
            fs::read_to_string(&missing).await.unwrap_err(),
            fs::metadata(&missing).await.unwrap_err(),
            fs::remove_file(&missing).await.unwrap_err(),
            fs::rename(&missing, d.join("x")).await.unwrap_err(),
            fs::copy(&missing, d.join("x")).await.unwrap_err(),
        ] {
            assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err:?}");
        }
        assert!(!fs::try_exists(&missing).await.unwrap());

        let bad = d.join("bad.txt");
        fs::write(&bad, [0xff, 0xfe, b'\n']).await.unwrap();
        let err = fs::read_to_string(&bad).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err:?}");
    });
}

#[test]
fn directories_rename_copy_remove() {
    let dir = TempDir::new("dirs");
    let d = dir.0.clone();
    run("fs dirs", async move {
        let nested = d.join("a/b/c");
        fs::create_dir_all(&nested).await.unwrap();
        assert!(fs::metadata(&nested).await.unwrap().is_dir());
        // Again: no error. create_dir on an existing one: AlreadyExists.
        fs::create_dir_all(&nested).await.unwrap();
        let err = fs::create_dir(&nested).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err:?}");

        let f = nested.join("f.bin");
        fs::write(&f, vec![3u8; 1000]).await.unwrap();
        let g = d.join("g.bin");
        assert_eq!(fs::copy(&f, &g).await.unwrap(), 1000);
        assert_eq!(fs::read(&g).await.unwrap(), vec![3u8; 1000]);
        let h = d.join("h.bin");
        fs::rename(&g, &h).await.unwrap();
        assert!(!fs::try_exists(&g).await.unwrap());
        assert_eq!(fs::metadata(&h).await.unwrap().len(), 1000);
        fs::remove_file(&h).await.unwrap();
        assert_eq!(
            fs::remove_file(&h).await.unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        // A non-empty directory is not removed by remove_dir, but by remove_dir_all.
        assert!(fs::remove_dir(d.join("a")).await.is_err());
        fs::remove_dir_all(d.join("a")).await.unwrap();
        assert!(!fs::try_exists(d.join("a")).await.unwrap());

        #[cfg(unix)]
        {
            // Writing into the directory just removed: NotFound.
            let err = fs::write(f.with_file_name("x"), "").await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err:?}");
            let target = d.join("target.txt");
            fs::write(&target, "t").await.unwrap();
            let link = d.join("link");
            fs::symlink(&target, &link).await.unwrap();
            assert_eq!(fs::read_link(&link).await.unwrap(), target);
            assert!(fs::symlink_metadata(&link)
                .await
                .unwrap()
                .file_type()
                .is_symlink());
            assert_eq!(
                fs::canonicalize(&link).await.unwrap(),
                std::fs::canonicalize(&target).unwrap()
            );
        }
    });
}

#[test]
fn read_dir_returns_every_entry_across_batches() {
    let dir = TempDir::new("readdir");
    let d = dir.0.clone();
    run("fs read_dir", async move {
        for i in 0..100 {
            fs::write(d.join(format!("f{i:03}")), [i as u8])
                .await
                .unwrap();
        }
        fs::create_dir(d.join("sub")).await.unwrap();
        let mut entries = fs::read_dir(&d).await.unwrap();
        let mut names = Vec::new();
        let mut dirs = 0;
        while let Some(entry) = entries.next_entry().await.unwrap() {
            assert_eq!(entry.path(), d.join(entry.file_name()));
            if entry.file_type().await.unwrap().is_dir() {
                dirs += 1;
            } else {
                assert_eq!(entry.metadata().await.unwrap().len(), 1);
            }
            names.push(entry.file_name().into_string().unwrap());
        }
        // Exhausted: stays exhausted.
        assert!(entries.next_entry().await.unwrap().is_none());
        names.sort();
        let mut expected: Vec<String> = (0..100).map(|i| format!("f{i:03}")).collect();
        expected.push("sub".into());
        assert_eq!(names, expected);
        assert_eq!(dirs, 1);

        let err = fs::read_dir(d.join("missing")).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let err = fs::read_dir(d.join("f000")).await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTDIR), "{err:?}");
    });
}

#[test]
fn file_write_then_read_back_more_than_one_chunk() {
    const LEN: usize = 5 * 1024 * 1024 + 123;
    let dir = TempDir::new("big");
    let p = dir.0.join("big.bin");
    run("fs big file", async move {
        let data: Vec<u8> = (0..LEN).map(|i| (i % 253) as u8).collect();
        let mut f = File::create(&p).await.unwrap();
        // Several write sizes, larger than one blocking write's share too.
        let mut off = 0;
        for size in [1usize, 10, 4096, 3 * 1024 * 1024].iter().cycle() {
            if off == LEN {
                break;
            }
            let end = (off + size).min(LEN);
            f.write_all(&data[off..end]).await.unwrap();
            off = end;
        }
        f.flush().await.unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), LEN as u64);
        drop(f);

        let mut f = File::open(&p).await.unwrap();
        let mut back = Vec::new();
        assert_eq!(f.read_to_end(&mut back).await.unwrap(), LEN);
        assert!(back == data, "the bytes read back differ");
        // At end of file: 0.
        let mut buf = [0u8; 8];
        assert_eq!(f.read(&mut buf).await.unwrap(), 0);
    });
}

#[test]
fn file_seek_read_write_interleave() {
    let dir = TempDir::new("seek");
    let p = dir.0.join("s.txt");
    run("fs seek", async move {
        let mut opts = std::fs::OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(true);
        let mut f = File::open_with(&p, opts).await.unwrap();
        f.write_all(b"hello world").await.unwrap();
        assert_eq!(f.seek(SeekFrom::Current(0)).await.unwrap(), 11);
        assert_eq!(f.seek(SeekFrom::Start(6)).await.unwrap(), 6);
        let mut five = [0u8; 5];
        f.read_exact(&mut five).await.unwrap();
        assert_eq!(&five, b"world");
        // Overwrite in the middle, then read everything from the start.
        f.seek(SeekFrom::Current(-11)).await.unwrap();
        f.write_all(b"HELLO").await.unwrap();
        f.seek(SeekFrom::End(-5)).await.unwrap();
        f.write_all(b"W").await.unwrap();
        f.seek(SeekFrom::Start(0)).await.unwrap();
        let mut all = String::new();
        f.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, "HELLO World");
        // Lines through a BufReader.
        f.seek(SeekFrom::Start(0)).await.unwrap();
        f.write_all(b"\nsecond\n").await.unwrap();
        f.seek(SeekFrom::Start(0)).await.unwrap();
        let lines: Vec<String> = BufReader::new(f)
            .lines()
            .map(|l| l.unwrap())
            .collect()
            .await;
        // Eight bytes over "HELLO World": the rest of the old content follows.
        assert_eq!(lines, ["", "second", "rld"]);
    });
}

#[test]
fn file_errors_missing_existing_read_only_and_set_len() {
    let dir = TempDir::new("errors");
    let d = dir.0.clone();
    run("fs file errors", async move {
        let p = d.join("f.txt");
        let err = File::open(&p).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let mut f = File::create_new(&p).await.unwrap();
        let err = File::create_new(&p).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        f.write_all(b"0123456789").await.unwrap();
        f.set_len(4).await.unwrap();
        f.sync_all().await.unwrap();
        assert_eq!(fs::read(&p).await.unwrap(), b"0123");
        let std = f.into_std().await;
        assert_eq!(std.metadata().unwrap().len(), 4);

        // A file opened for reading: the write is accepted (write-behind) and its error
        // comes with the flush.
        let mut ro = File::open(&p).await.unwrap();
        ro.write_all(b"nope").await.unwrap();
        let err = ro.flush().await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err:?}");
        // The error was reported once; the file is usable for reading.
        let mut s = String::new();
        ro.read_to_string(&mut s).await.unwrap();
        assert_eq!(s, "0123");
    });
}
