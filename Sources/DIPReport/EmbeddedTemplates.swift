// Generated from Templates/ by TemplateSyncTests; do not edit by hand. To regenerate:
//   DIP_UPDATE_TEMPLATES=1 swift test --filter TemplateSyncTests

/// The contents of Templates/, compiled in so the binary needs no files beside it.
enum EmbeddedTemplates {
    /// File name -> text.
    static let files: [String: String] = [
        "conclusion.md": #"""
## Conclusion (to be written)

*Placeholder text: replace it with your conclusion.* Which claims of the paper held up in this
replication, which did not, and what would settle the open ones?

"""#,
        "discussion.md": #"""
## Discussion (to be written)

*Placeholder text: replace it with your discussion of the results above.* Points worth covering:

- Do our numbers reach the paper's Table 1? Compare the best and the final iterate, and the seeds' spread.
- Did early stopping matter (the gap between best and final, and the sudden drops)?
- Does DIP beat the classical baseline measured on the very same masks?
- What do the width and depth sweeps say about the architecture claims?

"""#,
        "figure.mustache": #"""
<figure class="plot"><img src="{{uri}}" alt="{{alt}}" width="{{width}}"><figcaption>{{caption}}</figcaption></figure>

"""#,
        "gallery.mustache": #"""
<div class="gallery">
{{#heading}}<h4>{{heading}}</h4>{{/heading}}
<div class="pics">
{{#items}}{{#full}}<details class="pic"><summary><img src="{{thumbnail}}" alt="{{caption}}"><span>{{caption}}</span><span class="hint">{{size}}, click for full size</span></summary><img class="full" src="{{.}}" alt="{{caption}}, full size" loading="lazy"></details>{{/full}}{{^full}}<figure class="pic"><img src="{{thumbnail}}" alt="{{caption}}"><figcaption>{{caption}} <span class="hint">{{size}}</span></figcaption></figure>{{/full}}
{{/items}}
</div>
</div>

"""#,
        "report.mustache": ##"""
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<style>
{{> style}}
</style>
</head>
<body>
<main>
<header class="top">
<h1>{{title}}</h1>
<p>A reproduction of the inpainting results of <em>Deep Image Prior</em> (Ulyanov, Vedaldi, Lempitsky, CVPR 2018), following the outline of a student reproduction report (TU Delft, 2020) and going beyond it: several seeds per run, best and final iterates side by side, a classical baseline on the very same masks. Generated {{generatedAt}} from {{recordCount}} stored runs.</p>
{{#banner}}<div class="banner" role="note"><strong>Not comparable to the paper.</strong> {{.}}</div>{{/banner}}
{{#hasLeftOff}}<div class="banner" role="note"><strong>Stored runs not counted on this page:</strong><ul>{{#leftOff}}<li>{{.}}</li>{{/leftOff}}</ul></div>{{/hasLeftOff}}
{{#hasProblems}}<div class="problems"><strong>Files in the results folder that were skipped or set aside:</strong><ul>{{#problems}}<li>{{.}}</li>{{/problems}}</ul></div>{{/hasProblems}}
<nav class="toc"><ol>
<li><a href="#s1">Introduction</a></li><li><a href="#s2">Single image restoration with deep image priors</a></li>
<li><a href="#s3">Objective and methods</a></li><li><a href="#s4">Default architecture</a></li>
<li><a href="#s5">Experiment 1: Table 1</a></li><li><a href="#s6">Experiment 2: text masks and architecture</a></li>
<li><a href="#s7">Experiment 3: hyperparameters</a></li><li><a href="#s8">Discussion</a></li><li><a href="#s9">Conclusion</a></li>
<li><a href="#seeds">Appendix A: spread across seeds</a></li><li><a href="#provenance">Appendix B: provenance</a></li>
<li><a href="#era">Appendix C: experiment 4, the framework's era</a></li>
</ol></nav>
</header>

<section id="s1"><h2>1. Introduction</h2>
<p>Deep Image Prior (DIP) shows that the structure of a convolutional generator alone, with no training data, captures enough image statistics to restore images: a randomly initialised network is fitted to one corrupted image, and the fit is stopped before it reproduces the corruption. This report re-implements the inpainting part of the paper from its specification (a CPU implementation in Swift on oneDNN), runs the paper's Table 1 and the experiments of the seed report with fixed seeds, and puts every number beside the paper's.</p>
<p>Every number of ours in this page comes from a stored run record; hover a table cell to see the records it was computed from, and Appendix B lists every record with its commit, machine and duration. The reference numbers beside them (the paper's, the seed report's, a PyTorch run's) are cited; hover one for its source.</p>
</section>

<section id="s2"><h2>2. Single image restoration with deep image priors</h2>
<p>A network <em>f<sub>θ</sub></em> maps a fixed random input code <em>z</em> (32 channels of uniform noise scaled by 0.1) to an image <em>x = f<sub>θ</sub>(z)</em>. The weights θ are fitted by gradient descent to the corrupted image only; the restoration is the network's output after a chosen number of iterations. Early stopping is part of the method: fitted long enough, the network reproduces the holes too, and the fit can also destabilise (sudden PSNR drops, visible in the curves below). During the fit the input is perturbed by Gaussian noise (σ<sub>p</sub> = 0.03) at every iteration.</p>
<p>The masks actually used by the runs in this report (white = known pixel, black = hole):</p>
{{#masks}}{{> gallery}}{{/masks}}
{{^masks}}<p class="note">No stored run has a mask yet.</p>{{/masks}}
</section>

<section id="s3"><h2>3. Objective and methods</h2>
<p>Inpainting minimises the masked mean squared error <em>E(x; x<sub>0</sub>) = ‖(f<sub>θ</sub>(z) − x<sub>0</sub>) ⊙ m‖²</em>, where <em>x<sub>0</sub></em> is the corrupted image and <em>m</em> the binary mask (1 = known). Quality is the PSNR of the whole output against the clean image, reported for the <strong>final</strong> iterate and for the <strong>best</strong> iterate over the sampled iterations (which needs the clean image, so it is an oracle the paper's protocol does not have). The two are not drawn alike, so <em>final</em> can exceed <em>best</em>: as upstream prints them, a sampled iterate is the output an iteration computes before its optimiser step, for that iteration's perturbed input, while the final picture is rendered once more after the last step (from the unperturbed z as inpainting.ipynb does, or from the last perturbed input as restoration.ipynb does); a fit still improving at its end, as short profiles' fits are, has its final picture ahead of every sampled one.</p>
<ul>
<li><strong>Bernoulli masks</strong>: each pixel (each channel of colour images) is a hole with probability 50 %, drawn from the run's seed.</li>
<li><strong>Text masks</strong>: three strings drawn on kate.png with FreeSansBold; a pixel is a hole where the text covers it at all (Section 6).</li>
</ul>
<p>The claims under test, as the seed report set them out, and where this report checks them:</p>
<ol>
<li>Wrong early stopping hurts: best versus final columns and the PSNR curves (Sections 5 and 7).</li>
<li>DIP beats the earlier method of Papyan et al., and a classical baseline (total variation) on the very same masks (Section 5).</li>
<li>The network's structure must suit the task (Section 6).</li>
<li>Deeper networks do better (Section 6, depth sweep and Fig. 8's library image).</li>
<li>Skip connections that "work too well" hurt inpainting (Section 6, with and without skips).</li>
</ol>
</section>

<section id="s4"><h2>4. Default architecture</h2>
<p>The skip network ("hourglass" with skip connections) of the paper, drawn from the network object the engine builds for the stored runs: levels, channels, sizes, skip branches and parameter counts are read off it, not copied from a picture.</p>
{{#architecture}}{{> figure}}{{/architecture}}
{{#layerTables}}<details><summary>{{title}}: layer by layer</summary><pre>{{text}}</pre></details>{{/layerTables}}
</section>

<section id="s5"><h2>5. Experiment 1: Table 1 with Bernoulli masks</h2>
<p>50 % of the pixels are missing. <strong>Paper protocol</strong>: the Table-1 network (skip channels 4, bilinear upsampling), Adam with LR 0.001, 11000 iterations, σ<sub>p</sub> 0.03, backtracking, images at native size. <strong>Seed protocol</strong>: the seed report's settings (images resized to 512×512, the text network, LR 0.01, 6001 iterations).</p>
{{#table1Ran}}<details class="ran" open><summary>What ran here</summary><ul>{{#items}}<li>{{.}}</li>{{/items}}</ul></details>{{/table1Ran}}
{{#table1}}{{> table}}{{/table1}}
{{#bars}}{{> figure}}{{/bars}}
<h3>PSNR over iterations</h3>
<p class="note">Every seed is drawn, every sample kept (no smoothing), so destabilisation shows as a drop; a dot marks each seed's best iterate, the dashed line the paper's value.</p>
<div class="plots">{{#table1Plots}}{{> figure}}{{/table1Plots}}</div>
{{^table1Plots}}<p class="note">No Table-1 runs stored yet.</p>{{/table1Plots}}
<h3>Pictures</h3>
<p class="note">For each image, the run whose best PSNR is the median over seeds (for an even number of seeds the lower of the middle two; the heading names it): the clean image, the mask, the corrupted input, the best and final iterates and the error map of the best (|best − clean| × 4, black = exact). A picture larger than its thumbnail opens at full size when clicked.</p>
{{#table1Galleries}}{{> gallery}}{{/table1Galleries}}
{{^table1Galleries}}<p class="note">No Table-1 runs stored yet.</p>{{/table1Galleries}}
</section>

<section id="s6"><h2>6. Experiment 2: text masks and architecture changes</h2>
<p>The seed report drew three strings on kate.png in FreeSansBold: "Image Corruption" at 30 px from (128, 128), "Text Over Image" at 25 px from (250, 300) and "Deep Learning Project" at 25 px from (200, 400). The mask generated here from the same description:</p>
{{#textMask}}{{> gallery}}{{/textMask}}
{{^textMask}}<p class="note">No text-mask run stored yet.</p>{{/textMask}}
{{#experiment2Ran}}<details class="ran"><summary>What ran here</summary><ul>{{#items}}<li>{{.}}</li>{{/items}}</ul></details>{{/experiment2Ran}}
{{#experiment2}}{{> sweep}}{{/experiment2}}
{{#experiment2Missing}}<p class="note">No run of {{names}} stored yet: <code>{{command}}</code> fits them.</p>{{/experiment2Missing}}
{{^experiment2}}<p class="note">No run of this experiment stored yet: <code>dip-report run width depth library</code> (with the profile of the rest) fits them.</p>{{/experiment2}}
</section>

<section id="s7"><h2>7. Experiment 3: hyperparameters</h2>
<p>Learning rate (Adam at 0.1, 0.01, 0.001) and optimiser (L-BFGS at 0.01) on kate.png with the text mask. The seed report found LR 0.001 best at 6001 iterations, 0.1 collapsing, and L-BFGS converging faster to a lower PSNR. For each curve, the picture at the bottom of its worst sudden drop is kept.</p>
{{#experiment3Ran}}<details class="ran"><summary>What ran here</summary><ul>{{#items}}<li>{{.}}</li>{{/items}}</ul></details>{{/experiment3Ran}}
{{#experiment3}}{{> sweep}}{{/experiment3}}
{{^experiment3}}<p class="note">No run of this experiment stored yet: <code>dip-report run optimizers</code> (with the profile of the rest) fits them.</p>{{/experiment3}}
{{#otherExperiments}}<h3>Your own experiments</h3>
<p class="note">Experiments of a catalog file (<code>dip-report run --catalog FILE</code>) whose group is not experiment2 or experiment3.</p>
{{#sweeps}}{{> sweep}}{{/sweeps}}{{/otherExperiments}}
</section>

<section id="s8"><h2>8. Discussion</h2>
<div class="user">{{{discussionHTML}}}</div>
<p class="note">From {{discussionPath}} (yours to edit; rebuilding never overwrites it).</p>
</section>

<section id="s9"><h2>9. Conclusion</h2>
<div class="user">{{{conclusionHTML}}}</div>
<p class="note">From {{conclusionPath}} (yours to edit; rebuilding never overwrites it).</p>
</section>

<section id="seeds"><h2>Appendix A: spread across seeds</h2>
<p>Per experiment, configuration and image: the mean, range and standard deviation (n − 1) of the final and best PSNR over seeds, and whether the published value lies inside the seeds' range: the paper's Table 1 for the paper protocol, the seed report's for the seed protocol (its numbers are best PSNRs), none for TV (the paper has no TV row). The same table is printed by <code>dip-report diff</code>.</p>
{{#seedTable}}{{> table}}{{/seedTable}}
{{^seedTable}}<p class="note">No run stored yet.</p>{{/seedTable}}
</section>

<section id="provenance"><h2>Appendix B: provenance</h2>
<dl class="prov">{{#provenance}}<dt>{{name}}</dt><dd>{{value}}</dd>{{/provenance}}</dl>
<details><summary>Every stored run ({{recordCount}})</summary>{{#recordTable}}{{> table}}{{/recordTable}}</details>
</section>

<section id="era"><h2>Appendix C: experiment 4, does the framework's era matter?</h2>
<p>The paper's code ran on PyTorch 0.2–0.4 (2017–2018). Two defaults of that time differ from today's, and both touch the Table-1 network: BatchNorm's weight γ started as U(0, 1) (it starts at 1 since PyTorch 1.2), and <code>nn.Upsample(mode='bilinear')</code> behaved as <code>align_corners=True</code> (today's default is <code>False</code>, which is what upstream's unchanged code gets when run now). Section 5 runs the paper era's combination; this appendix runs the other three on the same images, masks and seeds.</p>
{{#eraRan}}<details class="ran"><summary>What ran here</summary><ul>{{#items}}<li>{{.}}</li>{{/items}}</ul></details>{{/eraRan}}
{{#era}}
<p>{{description}}</p>
{{#sentences}}<p class="finding">{{.}}</p>{{/sentences}}
{{^sentences}}<p class="note">No combination has runs paired with the paper-era runs yet.</p>{{/sentences}}
{{#table}}{{> table}}{{/table}}
<div class="plots">{{#plots}}{{> figure}}{{/plots}}</div>
{{/era}}
{{^era}}<p class="note">No era runs stored yet: <code>dip-report run era</code> (it plans table1-paper's runs too and reuses those stored).</p>{{/era}}
</section>
</main>
</body>
</html>

"""##,
        "style.mustache": #"""
:root { --ink: #222; --muted: #666; --rule: #ddd; --pos: #2e7d32; --neg: #c62828; --accent: #4e79a7; }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); margin: 0; background: #fff; }
main { max-width: 1100px; margin: 0 auto; padding: 1rem; }
header.top { border-bottom: 2px solid var(--rule); margin-bottom: 1rem; }
h1 { font-size: 1.7rem; margin: .4rem 0; } h2 { font-size: 1.35rem; border-bottom: 1px solid var(--rule); padding-bottom: .2rem; margin-top: 2.2rem; }
h3 { font-size: 1.1rem; margin-top: 1.5rem; } h4 { font-size: 1rem; margin: .8rem 0 .3rem; }
.banner { background: #fff4e5; border: 1px solid #f0b35a; padding: .6rem .9rem; border-radius: 6px; margin: .8rem 0; }
.problems { background: #fdecea; border: 1px solid #e57373; padding: .6rem .9rem; border-radius: 6px; }
nav.toc ol { columns: 2; margin: .3rem 0; } nav.toc a { color: var(--accent); }
/* A wide table may run on to the window's right edge past the text column (on a window as
   narrow as the column that margin is 0; 1.5rem clears a window's scroll bar, which 100vw
   counts), and scrolls only past that. */
.table-wrap { overflow-x: auto; margin: .6rem calc(50% - 50vw + 1.5rem) .6rem 0; }
table { border-collapse: collapse; font-size: .86rem; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { border-bottom: 1px solid var(--rule); padding: .25rem .5rem; text-align: right; white-space: nowrap; }
thead th { border-bottom: 2px solid var(--ink); text-align: center; }
tbody th { text-align: left; font-weight: 600; }
tr.ours { background: #f3f7fb; } tr.ref td, tr.ref th { color: #444; }
td.pos { color: var(--pos); font-weight: 600; } td.neg { color: var(--neg); font-weight: 600; }
td.warn { background: #fff4e5; } td.na { color: #aaa; }
.note { color: var(--muted); font-size: .85rem; margin: .2rem 0 1rem; }
.finding { border-left: 3px solid var(--ink); padding-left: .7rem; }
figure { margin: .8rem 0; } figure.plot img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: var(--muted); font-size: .85rem; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: .5rem 1rem; }
.gallery .pics { display: flex; flex-wrap: wrap; gap: .5rem; }
.pic { margin: 0; width: 140px; font-size: .78rem; } .pic img { width: 128px; height: auto; image-rendering: pixelated; border: 1px solid #ccc; display: block; }
details.pic > summary { list-style: none; cursor: zoom-in; } details.pic > summary::-webkit-details-marker { display: none; }
details.ran { background: #f7f5ec; border-left: 3px solid #b8860b; padding: .3rem .7rem; margin: .6rem 0; font-size: .93em; } details.ran ul { margin: .3rem 0; padding-left: 1.2rem; }
details.pic[open] { width: 100%; } details.pic img.full { width: auto; max-width: 100%; border: 1px solid #999; margin-top: .3rem; }
.pic span { display: block; } .hint { color: #999; }
pre { background: #f6f6f6; padding: .6rem; overflow-x: auto; font-size: .78rem; }
.user { border-left: 3px solid var(--rule); padding-left: .8rem; overflow-wrap: anywhere; } .omitted { color: var(--neg); }
.user table { display: block; overflow-x: auto; } .user td, .user th { white-space: normal; text-align: left; } .user img { max-width: 100%; }
dl.prov { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; font-size: .9rem; } dl.prov dt { font-weight: 600; } dl.prov dd { margin: 0; overflow-wrap: anywhere; }
@media (max-width: 640px) { body { font-size: 15px; } main { padding: .6rem; } .plots { grid-template-columns: 1fr; } nav.toc ol { columns: 1; } }
@media print { nav.toc, .hint { display: none; } details.pic > img.full { display: none; } h2 { page-break-before: auto; } figure, table { page-break-inside: avoid; } .plots { display: block; } body { font-size: 11pt; }
  /* Paper does not scroll: every column on the page, in smaller type, headers wrapping. */
  .table-wrap { overflow: visible; margin: .6rem 0; } .table-wrap > table { width: 100%; font-size: 7pt; }
  .table-wrap th, .table-wrap td { white-space: normal; padding: .1rem .2rem; } }

"""#,
        "sweep.mustache": #"""
<h3>{{title}}</h3>
<p>{{description}}</p>
{{#table}}{{> table}}{{/table}}
{{#plot}}{{> figure}}{{/plot}}
{{#outputs}}{{> gallery}}{{/outputs}}
{{#drops}}{{> gallery}}{{/drops}}

"""#,
        "table.mustache": #"""
<div class="table-wrap"><table{{#id}} id="{{id}}"{{/id}}>
{{#caption}}<caption>{{caption}}</caption>{{/caption}}
<thead><tr>{{#header}}<th scope="col">{{.}}</th>{{/header}}</tr></thead>
<tbody>
{{#rows}}<tr class="{{cls}}">{{#cells}}{{#head}}<th scope="row" class="{{cls}}" title="{{title}}">{{text}}</th>{{/head}}{{^head}}<td class="{{cls}}" title="{{title}}">{{text}}</td>{{/head}}{{/cells}}</tr>
{{/rows}}
</tbody></table></div>
{{#note}}<p class="note">{{note}}</p>{{/note}}

"""#,
    ]
}
