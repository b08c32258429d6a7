//! `GET /v2/<repo>/tags/list`, following `Link: <...>; rel="next"` pages.
use std::collections::HashSet;
use std::io::Read;

use reqwest::header::LINK;
use reqwest::Method;

use super::challenge::Scope;
use super::client::Client;
use super::name::validate_repository;
use super::transport::Req;
use super::url::{next_link, redact, resolve};
use super::RegistryError;

const MAX_PAGE: u64 = 16 * 1024 * 1024;
const MAX_PAGES: usize = 100_000;

impl Client {
    /// Every tag of `repo`, in the registry's order.
    pub fn list_tags(&self, repo: &str) -> Result<Vec<String>, RegistryError> {
        self.list_tags_paged(repo, None)
    }

    /// Like [`Client::list_tags`], asking for pages of `page_size` (`n=`).
    pub fn list_tags_paged(
        &self,
        repo: &str,
        page_size: Option<usize>,
    ) -> Result<Vec<String>, RegistryError> {
        let inner = &self.inner;
        validate_repository(repo)?;
        let mut url = inner.url(&format!("v2/{repo}/tags/list"))?;
        if let Some(n) = page_size {
            url.query_pairs_mut().append_pair("n", &n.to_string());
        }
        let scope = Scope::pull(repo);
        let mut tags = Vec::new();
        let mut seen = HashSet::new();
        loop {
            if !seen.insert(url.to_string()) || seen.len() > MAX_PAGES {
                return Err(RegistryError::Protocol {
                    method: "GET".to_string(),
                    url: redact(&url),
                    reason: "the tag list pagination loops".to_string(),
                });
            }
            let resp = inner.send(&Req::new(Method::GET, url.clone(), &scope))?;
            let resp = inner.check(resp, &Method::GET, &[200])?;
            let next = resp
                .headers()
                .get(LINK)
                .and_then(|l| l.to_str().ok())
                .and_then(next_link)
                .and_then(|n| resolve(&url, n));
            let mut body = Vec::new();
            resp.take(MAX_PAGE)
                .read_to_end(&mut body)
                .map_err(|e| RegistryError::Transport {
                    method: "GET".to_string(),
                    url: redact(&url),
                    reason: format!("reading the tag list: {e}"),
                })?;
            #[derive(serde::Deserialize)]
            struct Page {
                #[serde(default)]
                tags: Option<Vec<String>>,
            }
            let page: Page =
                serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol {
                    method: "GET".to_string(),
                    url: redact(&url),
                    reason: format!("the tag list is not valid JSON: {e}"),
                })?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                Some(n) => url = n,
                None => return Ok(tags),
            }
        }
    }
}
