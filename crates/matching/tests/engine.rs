//! Engine-level tests: search behaviour and scoring properties.

use ehm_matching::synth::Generator;
use ehm_matching::{FitOptions, Gender, Index, Params, Person, score_pair};
use proptest::prelude::*;

/// A realistic background population plus the given people.
fn index_with(extra: Vec<Person>) -> Index {
    let mut g = Generator::new(7);
    let (mut persons, _) = g.population(3000);
    persons.extend(extra);
    Index::build(persons)
}

fn jack() -> Person {
    Person::new("CHILD")
        .first("Jack")
        .last("Smith")
        .born("2015-06-01")
        .sex(Gender::Male)
}

#[test]
fn an_estimated_dob_two_years_out_still_finds_the_child_but_an_exact_one_does_not() {
    let index = index_with(vec![jack()]);
    let estimated = Person::new("Q1")
        .first("Jack")
        .last("Smith")
        .born("2017-08-14")
        .estimated()
        .sex(Gender::Male);
    let exact = Person::new("Q2")
        .first("Jack")
        .last("Smith")
        .born("2017-08-14")
        .sex(Gender::Male);
    let found = index.search(&estimated, 5, 0.5);
    assert!(found.iter().any(|c| c.person_id == "CHILD"), "{found:?}");
    let found = index.search(&exact, 5, 0.5);
    assert!(!found.iter().any(|c| c.person_id == "CHILD"), "{found:?}");
}

#[test]
fn twins_are_not_merged() {
    let base = |id: &str, first: &str| {
        Person::new(id)
            .last("Okafor")
            .first(first)
            .born("2019-03-04")
            .postcode("LS6 2AB")
            .address("14 Mill Lane")
    };
    let index = index_with(vec![
        base("T1", "Oliver").sex(Gender::Male),
        base("T2", "Harry").sex(Gender::Male),
    ]);
    let q = base("Q", "Oliver").sex(Gender::Male);
    let found = index.search(&q, 5, 0.5);
    assert_eq!(found.first().map(|c| c.person_id.as_str()), Some("T1"));
    assert!(!found.iter().any(|c| c.person_id == "T2"), "{found:?}");
    let twin = index
        .search(&q, 5, 0.0)
        .into_iter()
        .find(|c| c.person_id == "T2")
        .expect("twin is a candidate");
    assert!(twin.explanation.iter().any(|e| e.field == "sibling_guard"));
}

#[test]
fn a_query_without_a_forename_cannot_pick_one_twin() {
    let base = |id: &str, first: &str| {
        Person::new(id)
            .last("Okafor")
            .first(first)
            .born("2019-03-04")
            .postcode("LS6 2AB")
    };
    let index = index_with(vec![base("T1", "Oliver"), base("T2", "Harry")]);
    let mut q = base("Q", "x");
    q.first_name = None;
    let found = index.search(&q, 5, 0.5);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn swapped_first_and_last_names_match() {
    let child = Person::new("C")
        .first("Amara")
        .last("Whitfield")
        .born("2012-09-30");
    let index = index_with(vec![child]);
    let q = Person::new("Q")
        .first("Whitfield")
        .last("Amara")
        .born("2012-09-30");
    let found = index.search(&q, 5, 0.5);
    assert_eq!(
        found.first().map(|c| c.person_id.as_str()),
        Some("C"),
        "{found:?}"
    );
    assert!(found[0].explanation.iter().any(|e| e.field == "name_order"));
}

#[test]
fn a_nickname_typo_and_day_month_swap_still_find_the_child() {
    let child = Person::new("C")
        .first("Elizabeth")
        .last("Featherstone-Pemberton")
        .born("2014-03-07");
    let index = index_with(vec![child]);
    let q = Person::new("Q")
        .first("Lizzie")
        .last("Featherstone")
        .born("2014-07-03");
    let found = index.search(&q, 5, 0.5);
    assert_eq!(
        found.first().map(|c| c.person_id.as_str()),
        Some("C"),
        "{found:?}"
    );
}

#[test]
fn explanation_weights_add_up_to_the_score() {
    let index = index_with(vec![jack()]);
    let q = Person::new("Q")
        .first("Jack")
        .last("Smyth")
        .born("2015-06-01");
    let c = &index.search(&q, 1, 0.0)[0];
    let total: f64 = c.explanation.iter().map(|e| e.weight).sum();
    let p = 1.0 / (1.0 + (-total).exp2());
    assert!((p - c.score).abs() < 1e-9, "{p} vs {}", c.score);
}

#[test]
fn fitting_by_em_learns_the_match_share_and_keeps_valid_probabilities() {
    let mut g = Generator::new(11);
    // 300 queries, about 80% of them about indexed children.
    let (persons, queries, _) = g.scenario(3000, 300);
    let mut index = Index::build(persons);
    let present = queries.iter().filter(|q| q.truth.is_some()).count() as f64 / 300.0;
    let qs: Vec<Person> = queries.into_iter().map(|q| q.person).collect();
    let model = index.fit(&qs, &FitOptions::default());
    let report = model.fit.clone().expect("a fit report");
    assert!(report.iterations >= 1 && report.pairs > 300, "{report:?}");
    assert!(report.pair_match_share > 0.0 && report.pair_match_share < 1.0);
    // The learnt share of queries with a match is close to the truth (0.8).
    assert!(
        (model.match_share - present).abs() < 0.1,
        "{} vs {present}",
        model.match_share
    );
    for m in model.params.m.iter() {
        let s: f64 = m.iter().sum();
        assert!((s - 1.0).abs() < 1e-6, "{m:?}");
        assert!(m.iter().all(|&x| x > 0.0));
    }
    // Exact forename agreement is far more common among matches than disagreement.
    assert!(model.params.m[0][0] > model.params.m[0][7]);
    index.set_model(model.clone());
    assert_eq!(index.model(), &model);
    let json = model.to_json();
    assert!(
        json.starts_with("{\"match_share\":")
            && json.contains("\"forename\":[{\"level\":\"exact\""),
        "{json}"
    );
    assert!(model.to_string().contains("jaro_winkler_high"));
}

#[test]
fn the_built_in_model_has_even_prior_odds_of_being_in_the_index() {
    let index = Index::build(vec![jack()]);
    assert_eq!(index.model().match_share, 0.5);
    assert!(index.model().fit.is_none());
    // One in the effective index size (at least 10,000).
    assert!((index.prior() + 10_000f64.log2()).abs() < 1e-9);
}

fn arb_name() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        6 => prop::sample::select(vec![
            "Oliver", "Olivia", "Ollie", "Jack", "John", "Smith", "Smyth", "Smith-Jones", "J", "Amelia", "Millie",
            "Harry", "Henry", "O'Brien", "Zoë",
        ])
        .prop_map(|s| Some(s.to_string())),
    ]
}

fn arb_person() -> impl Strategy<Value = Person> {
    (
        arb_name(),
        arb_name(),
        prop::option::of((2005i32..2025, 1u8..13, 1u8..29)),
        any::<bool>(),
        prop::option::of(prop::sample::select(vec![Gender::Male, Gender::Female])),
        prop::option::of(prop::sample::select(vec![
            "LS6 2AB", "LS6 2AZ", "LS6 9AB", "M1 1AE", "LS6",
        ])),
        prop::option::of(prop::sample::select(vec![
            "14 Mill Lane",
            "14 Mill Ln",
            "16 Mill Lane",
            "Flat 2, 14 Mill Lane",
        ])),
        prop::option::of(arb_name()),
    )
        .prop_map(|(f, l, d, est, g, pc, addr, other)| Person {
            id: "x".into(),
            first_name: f,
            last_name: l,
            other_names: other.flatten().into_iter().collect(),
            dob: d.and_then(|(y, m, dd)| ehm_matching::Date::new(y, m, dd)),
            dob_estimated: est,
            dob_text: None,
            gender: g,
            postcode: pc.map(str::to_string),
            address: addr.map(str::to_string),
        })
}

proptest! {
    #[test]
    fn scoring_is_symmetric_and_within_unit_interval(a in arb_person(), b in arb_person(), prior in -25.0f64..0.0) {
        let p = Params::default();
        let (s1, _) = score_pair(&p, prior, &a, &b);
        let (s2, _) = score_pair(&p, prior, &b, &a);
        prop_assert!((0.0..=1.0).contains(&s1));
        prop_assert!((s1 - s2).abs() < 1e-12, "{} vs {}", s1, s2);
    }

    #[test]
    fn a_record_scores_at_least_as_well_against_itself_as_against_anything(a in arb_person(), b in arb_person()) {
        let p = Params::default();
        let (self_score, _) = score_pair(&p, -13.0, &a, &a);
        let (other, _) = score_pair(&p, -13.0, &a, &b);
        prop_assert!(self_score + 1e-12 >= other, "{} < {}", self_score, other);
    }

    #[test]
    fn search_scores_are_probabilities(a in arb_person(), q in arb_person()) {
        let mut a = a;
        a.id = "A".into();
        let index = Index::build(vec![a]);
        for c in index.search(&q, 5, 0.0) {
            prop_assert!((0.0..=1.0).contains(&c.score));
        }
    }
}

#[test]
fn a_namesake_in_the_same_postcode_yields_to_the_querys_own_record() {
    // Two different children who share a forename and a postcode. A referral about the
    // first agrees with it on everything; the second must compete with it rather than
    // be reported too (even when nearly every referral is known to be on record).
    let own = Person::new("OWN")
        .first("Joel")
        .last("Waller")
        .born("2014-07-16")
        .postcode("LS6 2AB")
        .address("12 Quarry Street");
    let namesake = Person::new("OTHER")
        .first("Joel")
        .last("Greenhalgh")
        .postcode("LS6 2AB")
        .address("70 Wangara Street");
    let mut index = index_with(vec![own, namesake]);
    let mut model = index.model().clone();
    model.match_share = 0.98;
    index.set_model(model);
    let q = Person::new("Q")
        .first("Joel")
        .last("Waller")
        .born("2014-07-16")
        .postcode("LS6 2AB")
        .address("12 Quarry Stret");
    let found = index.search(&q, 5, 0.0);
    assert_eq!(found[0].person_id, "OWN", "{found:?}");
    assert!(found[0].score > 0.99, "{found:?}");
    let other = found.iter().find(|c| c.person_id == "OTHER");
    assert!(other.is_none_or(|c| c.score < 0.1), "{other:?}");
}

#[test]
fn a_misspelt_forename_with_a_common_surname_and_nothing_else_is_still_a_candidate() {
    // No DOB, no address: the forename's sound and first letters are both wrong, and the
    // surname alone is shared by many. The wide surname block, ranked by the query's
    // remaining fields (here the sex), still brings the child in.
    let mut extra: Vec<Person> = (0..40)
        .map(|i| {
            Person::new(format!("J{i}"))
                .first(["Oliver", "Amelia", "Harry", "Isla", "Jack"][i % 5])
                .last("Jones")
                .born(&format!("20{:02}-03-0{}", 5 + i % 15, 1 + i % 9))
        })
        .collect();
    extra.push(
        Person::new("CHILD")
            .first("Fenlia")
            .last("Jones")
            .born("2020-06-28")
            .sex(Gender::Female),
    );
    let index = index_with(extra);
    let q = Person::new("Q")
        .first("Fvnlia")
        .last("Jones")
        .sex(Gender::Female);
    let found = index.search(&q, 100, 0.0);
    assert!(found.iter().any(|c| c.person_id == "CHILD"), "{found:?}");
}

#[test]
fn household_details_recorded_for_one_twin_only_do_not_pick_that_twin() {
    // Twins share everything but the forename and sex; one twin's record lacks the
    // postcode. A referral without a forename or sex, from a new address, cannot tell
    // them apart: the twin with less recorded (so less to disagree with) must not win.
    let twin = |id: &str, first: &str, g: Gender| {
        Person::new(id)
            .first(first)
            .last("Bradwell")
            .born("2009-03-04")
            .sex(g)
            .address("133 Oak Avenue")
    };
    let index = index_with(vec![
        twin("AYA", "Aya", Gender::Female).postcode("HX3 4RJ"),
        twin("OWEN", "Owen", Gender::Male),
    ]);
    let q = Person::new("Q")
        .last("Bradwell-Martin")
        .born("2009-04-03")
        .postcode("B5 9DT")
        .address("47 School Lane");
    let found = index.search(&q, 5, 0.0);
    assert!(found.iter().all(|c| c.score < 0.5), "{found:?}");
}
