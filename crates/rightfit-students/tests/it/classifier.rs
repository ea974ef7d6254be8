//! Training: a separable task learnt exactly, both shapes, seeded; bad input refused up front.

use rightfit_students::{MIN_EXAMPLES_PER_LABEL, ModelKind, StudentError, TrainOptions, train};

use crate::support::clusters;

fn quiet() -> impl FnMut(&rightfit_students::EpochReport) {
    |_| {}
}

#[test]
fn logistic_regression_learns_separable_clusters_exactly() {
    let (x, y, labels) = clusters(30, 1);
    let mut seen = Vec::new();
    let (c, report) = train(&x, &y, &labels, &TrainOptions::default(), &mut |e| {
        seen.push(e.epoch)
    })
    .expect("trains");
    let (x_test, y_test, _) = clusters(20, 2);
    assert_eq!(c.accuracy(&x_test, &y_test).expect("fits"), 1.0);
    assert_eq!(c.labels(), labels.as_slice());
    assert_eq!(c.dims(), 4);
    // The callback saw every epoch, in order, and the report kept the best one.
    assert_eq!(seen, (1..=report.epochs.len()).collect::<Vec<_>>());
    assert!(report.best_epoch >= 1 && report.best_epoch <= report.epochs.len());
    assert_eq!(report.train_examples + report.validation_examples, 90);
    assert_eq!(report.validation_examples, 9);
    let best = report.best().expect("best epoch");
    assert_eq!(best.validation_accuracy, Some(1.0));
    // Confident on a clear point: P(a) for the centre of cluster a.
    let p = c.probabilities(&[4.0, 0.0, 0.0, 1.0]).expect("fits");
    assert!(p[0] > 0.9, "{p:?}");
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
}

#[test]
fn the_mlp_learns_what_a_line_cannot() {
    // XOR in two dimensions (with a constant third): no linear classifier gets it all right.
    let corners = [
        ([0.0, 0.0], 0),
        ([1.0, 1.0], 0),
        ([0.0, 1.0], 1),
        ([1.0, 0.0], 1),
    ];
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..25 {
        for (c, label) in corners {
            let j = (i as f32) * 0.004;
            x.push(vec![c[0] + j, c[1] - j, 1.0]);
            y.push(label);
        }
    }
    let labels = vec!["same".to_owned(), "different".to_owned()];
    let options = TrainOptions {
        model: ModelKind::Mlp { hidden: 16 },
        learning_rate: 1e-2,
        validation_fraction: 0.0,
        max_epochs: 300,
        ..TrainOptions::default()
    };
    let (mlp, _) = train(&x, &y, &labels, &options, &mut quiet()).expect("trains");
    assert_eq!(mlp.accuracy(&x, &y).expect("fits"), 1.0);
    assert_eq!(mlp.kind(), ModelKind::Mlp { hidden: 16 });
    let linear = TrainOptions {
        model: ModelKind::Linear,
        ..options
    };
    let (line, _) = train(&x, &y, &labels, &linear, &mut quiet()).expect("trains");
    assert!(line.accuracy(&x, &y).expect("fits") <= 0.75);
}

#[test]
fn training_is_reproducible_for_a_seed() {
    let (x, y, labels) = clusters(20, 3);
    let options = TrainOptions {
        model: ModelKind::Mlp { hidden: 8 },
        max_epochs: 5,
        seed: 7,
        ..TrainOptions::default()
    };
    let (a, _) = train(&x, &y, &labels, &options, &mut quiet()).expect("trains");
    let (b, _) = train(&x, &y, &labels, &options, &mut quiet()).expect("trains");
    assert_eq!(a, b);
}

fn refused(x: &[Vec<f32>], y: &[usize], labels: &[String]) -> String {
    let e = train(x, y, labels, &TrainOptions::default(), &mut quiet()).expect_err("refused");
    assert!(matches!(e, StudentError::Data(_)), "{e}");
    e.to_string()
}

#[test]
fn bad_training_data_is_refused_before_any_work() {
    let (x, y, labels) = clusters(10, 4);
    assert!(refused(&[], &[], &labels).contains("no examples"));
    let one = vec!["a".to_owned()];
    assert!(refused(&x[..10], &[0; 10], &one).contains("at least two"));
    // Too few rows of one label: the message states the minimum and names the label.
    let few: Vec<usize> = y.iter().map(|&l| if l == 2 { 0 } else { l }).collect();
    let mut x_few = x.clone();
    let mut y_few = few.clone();
    x_few.extend(x.iter().take(3).cloned());
    y_few.extend([2, 2, 2]);
    let msg = refused(&x_few, &y_few, &labels);
    assert!(
        msg.contains(&format!("at least {MIN_EXAMPLES_PER_LABEL} examples"))
            && msg.contains("'c' (3)"),
        "{msg}"
    );
    let mut nan = x.clone();
    nan[4][2] = f32::NAN;
    let msg = refused(&nan, &y, &labels);
    assert!(
        msg.contains("row 5") && msg.contains("dimension 2"),
        "{msg}"
    );
    let mut ragged = x.clone();
    ragged[6].pop();
    assert!(refused(&ragged, &y, &labels).contains("row 7: 3 dimensions"));
    let mut out_of_range = y.clone();
    out_of_range[0] = 9;
    assert!(refused(&x, &out_of_range, &labels).contains("row 1: target 9"));
}

#[test]
fn with_no_minimum_a_label_never_seen_is_never_predicted() {
    // A teacher's answers need not cover every label: 'd' absent, 'c' given once.
    let (x, y, mut labels) = clusters(10, 4);
    labels.push("d".to_owned());
    let once = y.iter().position(|&l| l == 2).expect("a row of label 2");
    let (xs, ys): (Vec<Vec<f32>>, Vec<usize>) = (0..y.len())
        .filter(|&i| y[i] != 2 || i == once)
        .map(|i| (x[i].clone(), y[i]))
        .unzip();
    let options = TrainOptions {
        min_examples_per_label: 0,
        ..TrainOptions::default()
    };
    let (model, report) = train(&xs, &ys, &labels, &options, &mut |_| {}).expect("trained");
    assert!(report.validation_examples > 0);
    for v in &xs {
        let (best, p) = model.predict(v).expect("predicted");
        assert_ne!(best, 3, "an unseen label was predicted");
        assert!(p.is_finite());
    }
    let msg = refused(&xs, &ys, &labels);
    assert!(msg.contains("'d' (0)") && msg.contains("'c' (1)"), "{msg}");
}

#[test]
fn options_out_of_range_are_refused() {
    let (x, y, labels) = clusters(10, 5);
    for (options, name) in [
        (
            TrainOptions {
                batch_size: 0,
                ..TrainOptions::default()
            },
            "batch_size",
        ),
        (
            TrainOptions {
                validation_fraction: 0.7,
                ..TrainOptions::default()
            },
            "validation_fraction",
        ),
        (
            TrainOptions {
                model: ModelKind::Mlp { hidden: 0 },
                ..TrainOptions::default()
            },
            "model.hidden",
        ),
    ] {
        let e = train(&x, &y, &labels, &options, &mut quiet()).expect_err("refused");
        assert!(e.to_string().contains(name), "{e}");
    }
}
