//! The release-age cooldown (`PYOCI_MIRROR_MIN_AGE`): a public release published minutes
//! ago by a compromised maintainer account is not installed until it has been public for a
//! while, long enough for the public index to notice and remove it.

use std::time::{Duration, SystemTime};

use crate::fallback::mirror::{MirrorSettings, Release};
use crate::package::{DistFilename, ProjectName};

/// Which public files are held back.
#[derive(Clone, Debug, Default)]
pub struct Cooldown {
    min_age: Option<Duration>,
    exceptions: Vec<Release>,
}

impl Cooldown {
    pub fn new(settings: &MirrorSettings) -> Cooldown {
        Cooldown {
            min_age: settings.mirror_min_age.map(|age| age.0),
            exceptions: settings.mirror_exceptions.clone(),
        }
    }

    /// Whether a public file of `project` uploaded at `uploaded` is hidden at `now`. A file
    /// without an upload time is hidden while a cooldown is set (its age is unknown); one
    /// whose name does not parse is hidden too (it cannot be matched to an exception).
    pub fn hides(
        &self,
        project: &ProjectName,
        filename: &str,
        uploaded: Option<SystemTime>,
        now: SystemTime,
    ) -> bool {
        let Some(min_age) = self.min_age else {
            return false;
        };
        let Ok(file) = DistFilename::parse(filename) else {
            return true;
        };
        let excepted = self
            .exceptions
            .iter()
            .any(|release| release.name == *project && release.version == *file.version());
        if excepted {
            return false;
        }
        match uploaded {
            // A time in the future is as young as can be.
            Some(uploaded) => now
                .duration_since(uploaded)
                .map_or(true, |age| age < min_age),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fallback::mirror::Age;

    const DAY: Duration = Duration::from_secs(86_400);

    fn cooldown(min_age: Option<Duration>, exceptions: &[&str]) -> Cooldown {
        Cooldown::new(&MirrorSettings {
            mirror_min_age: min_age.map(Age),
            mirror_exceptions: exceptions.iter().map(|r| r.parse().unwrap()).collect(),
            ..MirrorSettings::default()
        })
    }

    #[test]
    fn young_and_undated_files_are_hidden_unless_excepted() {
        let now = SystemTime::UNIX_EPOCH + 1000 * DAY;
        let name = ProjectName::parse("Demo").unwrap();
        let wheel = "demo-2.0-py3-none-any.whl";
        let off = cooldown(None, &[]);
        assert!(
            !off.hides(&name, wheel, None, now),
            "no cooldown, nothing hidden"
        );
        let week = cooldown(Some(7 * DAY), &["demo==2.0"]);
        let strict = cooldown(Some(7 * DAY), &[]);
        let young = Some(now - DAY);
        let old = Some(now - 8 * DAY);
        assert!(strict.hides(&name, wheel, young, now));
        assert!(!strict.hides(&name, wheel, old, now));
        assert!(strict.hides(&name, wheel, None, now), "undated");
        assert!(
            strict.hides(&name, wheel, Some(now + DAY), now),
            "from the future"
        );
        assert!(strict.hides(&name, "not a dist file", old, now));
        assert!(
            !week.hides(&name, wheel, young, now),
            "the exception shows it"
        );
        assert!(
            !week.hides(&name, "demo-2.0.tar.gz", None, now),
            "any file of it"
        );
        assert!(
            week.hides(&name, "demo-2.1.tar.gz", young, now),
            "only that version"
        );
    }
}
