/* Search-box completion for bantin: an ARIA 1.2 combobox with a listbox popup.
 *
 * Progressive enhancement only: without this file the form submits as usual.
 * Keys: ArrowDown/ArrowUp move through the suggestions, Enter picks one (and searches),
 * Escape closes the list. Requests are debounced and stale answers are dropped.
 */
(function () {
  "use strict";

  var DEBOUNCE_MS = 150;

  function setUp(form) {
    var input = form.querySelector("input[role='combobox']");
    var listbox = input && document.getElementById(input.getAttribute("aria-controls"));
    var endpoint = form.getAttribute("data-suggest-url");
    if (!input || !listbox || !endpoint || !window.fetch) {
      return;
    }

    // Announces how many suggestions appeared, for screen-reader users.
    var status = document.createElement("div");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    form.appendChild(status);

    var items = [];
    var active = -1;
    var timer = null;
    var controller = null;
    var lastRequested = null;

    function optionId(index) {
      return listbox.id + "-option-" + index;
    }

    function isOpen() {
      return !listbox.hidden;
    }

    function close() {
      listbox.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function open() {
      if (items.length) {
        listbox.hidden = false;
        input.setAttribute("aria-expanded", "true");
      }
    }

    function setActive(index) {
      var options = listbox.children;
      if (active >= 0 && options[active]) {
        options[active].setAttribute("aria-selected", "false");
      }
      active = index;
      if (active >= 0 && options[active]) {
        options[active].setAttribute("aria-selected", "true");
        input.setAttribute("aria-activedescendant", optionId(active));
        options[active].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function render(suggestions) {
      items = suggestions;
      listbox.textContent = "";
      suggestions.forEach(function (text, index) {
        var option = document.createElement("li");
        option.id = optionId(index);
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.textContent = text;
        // mousedown, not click: it fires before the input loses focus.
        option.addEventListener("mousedown", function (event) {
          event.preventDefault();
          choose(index);
        });
        listbox.appendChild(option);
      });
      active = -1;
      input.removeAttribute("aria-activedescendant");
      if (suggestions.length) {
        open();
        status.textContent = suggestions.length + " gợi ý. Dùng mũi tên lên, xuống để chọn.";
      } else {
        close();
        status.textContent = "";
      }
    }

    function choose(index) {
      var text = items[index];
      if (text === undefined) {
        return;
      }
      input.value = text;
      close();
      if (form.requestSubmit) {
        form.requestSubmit();
      } else {
        form.submit();
      }
    }

    function fetchSuggestions() {
      var query = input.value;
      if (!query.trim()) {
        lastRequested = null;
        render([]);
        return;
      }
      if (query === lastRequested) {
        open();
        return;
      }
      lastRequested = query;
      if (controller) {
        controller.abort();
      }
      controller = window.AbortController ? new AbortController() : null;
      var url = endpoint + (endpoint.indexOf("?") < 0 ? "?" : "&") + "q=" + encodeURIComponent(query);
      fetch(url, {
        headers: { Accept: "application/json" },
        signal: controller ? controller.signal : undefined,
      })
        .then(function (response) {
          return response.ok ? response.json() : [];
        })
        .then(function (data) {
          // Drop answers to an older text: the user kept typing.
          if (input.value !== query || document.activeElement !== input) {
            return;
          }
          render(Array.isArray(data) ? data.filter(function (s) { return typeof s === "string"; }) : []);
        })
        .catch(function () {
          /* aborted or offline: completion is optional */
        });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(fetchSuggestions, DEBOUNCE_MS);
    });

    input.addEventListener("keydown", function (event) {
      switch (event.key) {
        case "ArrowDown":
          if (!items.length) {
            return;
          }
          event.preventDefault();
          if (!isOpen()) {
            open();
            setActive(0);
          } else {
            setActive(active + 1 < items.length ? active + 1 : 0);
          }
          break;
        case "ArrowUp":
          if (!items.length) {
            return;
          }
          event.preventDefault();
          if (!isOpen()) {
            open();
            setActive(items.length - 1);
          } else {
            setActive(active > 0 ? active - 1 : items.length - 1);
          }
          break;
        case "Enter":
          if (isOpen() && active >= 0) {
            event.preventDefault();
            choose(active);
          } else {
            close();
          }
          break;
        case "Escape":
          if (isOpen()) {
            event.preventDefault();
            close();
          }
          break;
        case "Tab":
          close();
          break;
        default:
          break;
      }
    });

    input.addEventListener("blur", function () {
      window.clearTimeout(timer);
      close();
    });
  }

  function init() {
    var forms = document.querySelectorAll("form[data-suggest-url]");
    for (var i = 0; i < forms.length; i += 1) {
      setUp(forms[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
