//! Whether a config file may be trusted with commands: it must belong to you (or root) and
//! nobody else may write it, as ssh asks of `authorized_keys`.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::unistd::{Gid, Group, Uid, User};

use super::ConfigError;

/// Reads the config at `path` through one open handle, refusing a regular file that another
/// user owns or that group or others can write (a pipe or device is taken as given).
pub(super) fn read_trusted(path: &Path) -> Result<String, ConfigError> {
    let read_err = |e| ConfigError::Read {
        path: path.to_path_buf(),
        source: e,
    };
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if meta.file_type().is_file() {
        check(path, &meta)?;
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(read_err)?;
    Ok(text)
}

fn check(path: &Path, meta: &std::fs::Metadata) -> Result<(), ConfigError> {
    let me = Uid::current();
    let unsafe_because = |why: String, fix: String| ConfigError::Unsafe {
        path: path.to_path_buf(),
        why,
        fix,
    };
    if meta.uid() != me.as_raw() && meta.uid() != 0 {
        return Err(unsafe_because(
            format!("it belongs to another user (uid {})", meta.uid()),
            "use a copy of your own".into(),
        ));
    }
    let mode = meta.mode() & 0o777;
    let others = mode & 0o002 != 0;
    let group = mode & 0o020 != 0 && !own_private_group(Gid::from_raw(meta.gid()), me);
    if others || group {
        return Err(unsafe_because(
            format!("group or others can write it (mode {mode:o})"),
            format!("fix with `chmod go-w {}`", shell_quote(path)),
        ));
    }
    Ok(())
}

/// Whether `gid` is the user's own group (their primary group, named after them, with no
/// other member), where group write gives nobody else anything (Debian's umask 002).
fn own_private_group(gid: Gid, uid: Uid) -> bool {
    let Ok(Some(user)) = User::from_uid(uid) else {
        return false;
    };
    if user.gid != gid {
        return false;
    }
    matches!(Group::from_gid(gid), Ok(Some(g)) if g.name == user.name && g.mem.iter().all(|m| *m == user.name))
}

/// `path` as a shell word.
fn shell_quote(path: &Path) -> String {
    let s = path.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(path: &Path, mode: u32) {
        std::fs::write(path, "workspace = \"t\"\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn writable_by_others_is_refused_and_a_link_is_judged_by_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("my config.toml");
        write(&file, 0o666);
        let err = read_trusted(&file).unwrap_err().to_string();
        assert!(err.contains("(mode 666)"), "{err}");
        assert!(
            err.contains("chmod go-w '"),
            "a path with a space is quoted: {err}"
        );
        write(&file, 0o600);
        let link = dir.path().join("link.toml");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(read_trusted(&link).unwrap(), "workspace = \"t\"\n");
        assert_eq!(read_trusted(Path::new("/dev/null")).unwrap(), "");
        assert_eq!(shell_quote(Path::new("/a/b.toml")), "/a/b.toml");
        assert_eq!(shell_quote(Path::new("/a/it's")), "'/a/it'\\''s'");
    }

    #[test]
    fn a_file_of_another_user_is_refused() {
        if !Uid::current().is_root() {
            return; // only root can give a file away
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("theirs.toml");
        write(&file, 0o644);
        std::os::unix::fs::chown(&file, Some(65534), None).unwrap();
        let err = read_trusted(&file).unwrap_err().to_string();
        assert!(err.contains("belongs to another user (uid 65534)"), "{err}");
    }
}
