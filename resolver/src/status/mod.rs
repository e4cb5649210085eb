//! "Am I protected?" and the status page, served by the warning-page
//! server ([`crate::warning`]):
//!
//! - `http://check.parapet.test/` ([`crate::reserved::CHECK_NAME`], which
//!   parapet always answers with the sinkhole address) says in plain words
//!   that this device is protected, by whom, how fresh the list is, whether
//!   the last feed update succeeded, and what to do if the page ever stops
//!   showing. Or that it is not protected yet: no list.
//! - `http://blocked.parapet.test/` shows the normal warning page.
//! - `http://check.parapet.test/status` (or `/status` on the box's
//!   address) is the status page for the person who runs the box:
//!   protection on or off, list age and size, each feed's last update and
//!   result, queries and blocks today, and the most recent blocked names
//!   ([`recent`]). Only clients in `[access] allow` (the networks the
//!   resolver serves) see it; others get 403.
//!
//! Everything is read when a page is shown: the list in service, the
//! updater's `feeds.prom` ([`feeds`]), the metrics' totals ([`today`]) and
//! the names [`recent::Recent`] keeps while the query log is on.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::access::AccessList;
use crate::config::{Config, ListSource};
use crate::list::SharedBlocklist;
use crate::metrics::WarningView;
use crate::reserved::{self, Reserved};
use crate::warning::AnswerBlocks;
use crate::warning::config::WarningPageConfig;
use crate::warning::host::Host;
use crate::warning::notice::{self, Notice};

pub(crate) mod feeds;
mod page;
pub(crate) mod recent;
pub(crate) mod today;

pub(crate) use recent::Recent;
pub(crate) use today::Today;

/// The path of the status page.
pub(crate) const STATUS_PATH: &str = "/status";

/// What the pages read. Cheap to share with `Arc`.
#[derive(Debug)]
pub struct Board {
    lists: SharedBlocklist,
    feeds_file: Option<PathBuf>,
    list_path: Option<PathBuf>,
    status_allow: AccessList,
    recent: Arc<Recent>,
    today: Option<Arc<Today>>,
    /// Names recently blocked through their answer, for the warning page
    /// (`None`: not known, e.g. a warning page served on its own).
    answer_blocks: Option<Arc<AnswerBlocks>>,
}

/// A page of this module, with its HTTP status and what metrics count it as.
#[derive(Debug)]
pub struct Shown {
    /// 200 for the check and status pages, 403 for the warning and a
    /// refused status page.
    pub status: u16,
    /// The page view counted.
    pub view: WarningView,
    /// The words.
    pub notice: Notice,
}

impl Board {
    /// The board for a server running `config`, reading `lists`, the names
    /// `recent` keeps (registered as a query observer by the caller when it
    /// keeps names), the counts of `today` and, for the warning page, the
    /// names `answer_blocks` remembers (a query observer too).
    pub fn new(
        config: &Config,
        lists: SharedBlocklist,
        recent: Arc<Recent>,
        today: Arc<Today>,
        answer_blocks: Arc<AnswerBlocks>,
    ) -> Self {
        let list_path = match &config.blocklist.source {
            ListSource::Artifact(path) => Some(path.clone()),
            ListSource::Sources(_) | ListSource::Empty => None,
        };
        Board {
            lists,
            feeds_file: crate::metrics::feed_file::of_source(&config.blocklist.source),
            list_path,
            status_allow: AccessList::new(config.access.allow.clone()),
            recent,
            today: Some(today),
            answer_blocks: Some(answer_blocks),
        }
    }

    /// A board that knows only the list (no feeds, no counts) and shows
    /// the status page to nobody: for a warning page served on its own.
    pub fn detached(lists: SharedBlocklist) -> Self {
        Board {
            lists,
            feeds_file: None,
            list_path: None,
            status_allow: AccessList::new(Vec::new()),
            recent: Arc::new(Recent::nothing()),
            today: None,
            answer_blocks: None,
        }
    }

    /// The names recently blocked through their answer (`None` for a
    /// detached board).
    pub(crate) fn answer_blocks(&self) -> Option<&AnswerBlocks> {
        self.answer_blocks.as_deref()
    }

    /// The page for a request to `host` with `path` from `client`, when it
    /// is one of this module's (see the module docs); `None` for any other
    /// request (the warning page's business).
    pub fn page(
        &self,
        host: &Host,
        path: &str,
        client: IpAddr,
        config: &WarningPageConfig,
    ) -> Option<Shown> {
        let reserved = match host {
            Host::Name(name) => reserved::of_host(&name.ascii),
            _ => None,
        };
        let status_path = path == STATUS_PATH || path == "/status/";
        let shown = match (reserved, host) {
            (Some(Reserved::Blocked), Host::Name(name)) => Shown {
                status: 403,
                view: WarningView::Blocked,
                notice: notice::blocked(name, &reserved::blocked_rule(), config),
            },
            (Some(Reserved::Check), _) | (None, Host::Ip(_)) if status_path => {
                self.status_page(client, config)
            }
            (Some(Reserved::Check), _) => Shown {
                status: 200,
                view: WarningView::Check,
                notice: page::check(&self.facts(), config),
            },
            _ => return None,
        };
        Some(shown)
    }

    fn status_page(&self, client: IpAddr, config: &WarningPageConfig) -> Shown {
        let (status, notice) = if self.status_allow.is_allowed(client) {
            (200, page::status(&self.facts(), &self.recent, config))
        } else {
            tracing::debug!(%client, "status page refused: client not in access.allow");
            (403, page::refused(config))
        };
        Shown {
            status,
            view: WarningView::Status,
            notice,
        }
    }

    /// What is true now.
    fn facts(&self) -> page::Facts {
        let list = self.lists.load();
        let stats = list.stats();
        page::Facts {
            now: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            has_list: crate::reload::has_list(&list),
            today: self.today.as_ref().map(|t| t.counts()),
            block_rules: crate::reload::block_rules(&stats),
            feeds: self.feeds_file.as_deref().and_then(feeds::FeedReport::read),
            list_path: self.list_path.clone(),
            stats,
        }
    }
}
