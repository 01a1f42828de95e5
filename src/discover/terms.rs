//! What is searched for, from the facility profile: every instrument's written
//! forms (the thesaurus), the affiliations (with ROR ids), acknowledgement
//! phrases, and the matching of a paper's affiliation text against them.

use crate::config::{Instrument, Profile};

/// An instrument and every way papers write it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstrumentForms {
    /// Maker ("Hitachi").
    pub vendor: String,
    /// Model ("SU8000").
    pub model: String,
    /// Written forms, model first: "SU8000", "SU-8000", "SU 8000", "Hitachi SU8000", …
    pub forms: Vec<String>,
}

/// Everything the queries are built from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Terms {
    /// Instruments with their forms.
    pub instruments: Vec<InstrumentForms>,
    /// Affiliation names.
    pub affiliations: Vec<String>,
    /// ROR ids (`https://ror.org/…`).
    pub rors: Vec<String>,
    /// Acknowledgement phrases (Europe PMC `ACK_FUND:`).
    pub acknowledgements: Vec<String>,
}

impl Terms {
    /// Reads the profile.
    pub fn from_profile(p: &Profile) -> Terms {
        Terms {
            instruments: p.instruments.iter().map(forms).collect(),
            affiliations: p.affiliations.iter().map(|a| a.name.trim().to_string()).filter(|a| !a.is_empty()).collect(),
            rors: p.affiliations.iter().filter_map(|a| a.ror.clone()).collect(),
            acknowledgements: p.acknowledgements.clone(),
        }
    }

    /// The author affiliation that names one of the facility's affiliations,
    /// if any: every word of it in any order, or the whole name inside the
    /// text (which also finds names run into a neighbouring word, as in
    /// Crossref's "Faculty of MedicineUzhgorod National University"); case
    /// and punctuation do not count.
    pub fn affiliation_match<'a>(&self, author_affiliations: impl IntoIterator<Item = &'a str>) -> Option<String> {
        let wanted: Vec<Vec<String>> = self.affiliations.iter().map(|a| words(a)).filter(|w| !w.is_empty()).collect();
        author_affiliations.into_iter().find_map(|aff| {
            let have = words(aff);
            let joined = have.join(" ");
            wanted
                .iter()
                .any(|w| w.iter().all(|x| have.contains(x)) || joined.contains(&w.join(" ")))
                .then(|| aff.trim().to_string())
        })
    }
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// The thesaurus: the model, the profile's synonyms, the model with a hyphen
/// and with a space between its letters and digits ("SU8000" → "SU-8000",
/// "SU 8000"), and the vendor before each ("Hitachi SU8000"); each form once,
/// whatever its case.
pub fn forms(inst: &Instrument) -> InstrumentForms {
    let mut bare = vec![inst.model.trim().to_string()];
    bare.extend(split_variants(&inst.model));
    let mut forms = Vec::new();
    let mut push = |f: String| {
        if !f.is_empty() && !forms.iter().any(|g: &String| g.eq_ignore_ascii_case(&f)) {
            forms.push(f);
        }
    };
    for b in &bare {
        push(b.clone());
    }
    for s in &inst.synonyms {
        push(s.trim().to_string());
    }
    let vendor = inst.vendor.trim();
    for b in &bare {
        if !vendor.is_empty() {
            push(format!("{vendor} {b}"));
        }
    }
    InstrumentForms { vendor: vendor.to_string(), model: inst.model.trim().to_string(), forms }
}

/// "SU8000" → ["SU-8000", "SU 8000"]; nothing for a model without a letters→digits step.
fn split_variants(model: &str) -> Vec<String> {
    let m = model.trim();
    let at = m
        .char_indices()
        .zip(m.chars().skip(1))
        .find(|((_, a), b)| a.is_ascii_alphabetic() && b.is_ascii_digit())
        .map(|((i, a), _)| i + a.len_utf8());
    match at {
        Some(i) => vec![format!("{}-{}", &m[..i], &m[i..]), format!("{} {}", &m[..i], &m[i..])],
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::vendor::Modality;

    fn inst(model: &str, synonyms: &[&str]) -> Instrument {
        Instrument {
            vendor: "Hitachi".into(),
            model: model.into(),
            synonyms: synonyms.iter().map(|s| s.to_string()).collect(),
            modality: Modality::Sem,
        }
    }

    #[test]
    fn thesaurus_expands_models() {
        let f = forms(&inst("SU8000", &["SU-8000", "Hitachi SU8000"]));
        assert_eq!(f.forms, ["SU8000", "SU-8000", "SU 8000", "Hitachi SU8000", "Hitachi SU-8000", "Hitachi SU 8000"]);
        let f = forms(&inst("HT7700", &[]));
        assert!(f.forms.contains(&"HT-7700".to_string()) && f.forms.contains(&"Hitachi HT 7700".to_string()));
        let f = forms(&inst("SU8230", &["Regulus 8230"]));
        assert!(f.forms.contains(&"Regulus 8230".to_string()));
        assert_eq!(split_variants("Regulus"), Vec::<String>::new());
    }

    #[test]
    fn affiliations_match_by_words() {
        let t = Terms { affiliations: vec!["Zelinsky Institute of Organic Chemistry".into()], ..Default::default() };
        let hit = t.affiliation_match([
            "Moscow State University",
            "N.D. Zelinsky Institute of Organic Chemistry, Russian Academy of Sciences, Leninsky pr. 47, Moscow",
        ]);
        assert!(hit.unwrap().starts_with("N.D. Zelinsky"));
        assert_eq!(t.affiliation_match(["Institute of Organic Chemistry, Novosibirsk"]), None);
        let t = Terms { affiliations: vec!["Uzhgorod National University".into()], ..Default::default() };
        assert!(t.affiliation_match(["Faculty of MedicineUzhgorod National University Uzhgorod Ukraine"]).is_some());
    }
}
