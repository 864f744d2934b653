package ndr

import "strings"

// explanationTable returns, for lang (English when the package has no
// explanations in lang), plain-word readings of enhanced status codes keyed
// by "subject.detail" or by "subject", and of actions keyed by the action's
// name. A function rather than a package variable, so nothing can change it.
func explanationTable(lang string) map[string]string {
	if lang != "de" {
		return map[string]string{
			"1.0":  "There is a problem with the address.",
			"1.1":  "The address does not exist.",
			"1.2":  "The recipient's domain does not exist or does not accept mail.",
			"1.3":  "The address is not valid.",
			"1.6":  "The recipient has moved and left no forwarding address.",
			"1.10": "The recipient's domain does not accept mail.",
			"1":    "There is a problem with the address.",
			"2.1":  "The mailbox is disabled and does not accept mail.",
			"2.2":  "The mailbox is full.",
			"2.3":  "The message is larger than the recipient accepts.",
			"2":    "There is a problem with the recipient's mailbox.",
			"3.4":  "The message is larger than the receiving system accepts.",
			"3":    "The recipient's mail system has a problem.",
			"4.4":  "No mail server for the recipient's domain could be found.",
			"4.7":  "The message could not be delivered in time and has expired.",
			"4":    "The recipient's mail server could not be reached.",
			"5":    "The exchange with the recipient's mail server failed.",
			"6":    "The message's content or format was not accepted.",
			"7.1":  "The recipient's mail system refused the message: delivery is not authorized.",
			"7":    "The recipient's mail system refused the message for policy or security reasons.",

			string(ActionFailed):    "The message could not be delivered.",
			string(ActionDelayed):   "The message has not been delivered yet; the mail system keeps trying.",
			string(ActionDelivered): "The message was delivered.",
			string(ActionRelayed):   "The message was passed on to a mail system that does not confirm delivery; no further notice will follow.",
			string(ActionExpanded):  "The message was delivered to a list address and passed on to its members.",
		}
	}
	return map[string]string{
		"1.0":  "Mit der Adresse stimmt etwas nicht.",
		"1.1":  "Die Adresse existiert nicht.",
		"1.2":  "Die Domain des Empfängers existiert nicht oder nimmt keine E-Mail an.",
		"1.3":  "Die Adresse ist ungültig.",
		"1.6":  "Der Empfänger ist umgezogen und hat keine neue Adresse hinterlassen.",
		"1.10": "Die Domain des Empfängers nimmt keine E-Mail an.",
		"1":    "Mit der Adresse stimmt etwas nicht.",
		"2.1":  "Das Postfach ist gesperrt und nimmt keine E-Mail an.",
		"2.2":  "Das Postfach ist voll.",
		"2.3":  "Die Nachricht ist größer, als der Empfänger annimmt.",
		"2":    "Mit dem Postfach des Empfängers stimmt etwas nicht.",
		"3.4":  "Die Nachricht ist größer, als das empfangende System annimmt.",
		"3":    "Das Mailsystem des Empfängers hat ein Problem.",
		"4.4":  "Für die Domain des Empfängers wurde kein Mailserver gefunden.",
		"4.7":  "Die Nachricht konnte nicht rechtzeitig zugestellt werden und ist abgelaufen.",
		"4":    "Der Mailserver des Empfängers war nicht erreichbar.",
		"5":    "Der Austausch mit dem Mailserver des Empfängers ist fehlgeschlagen.",
		"6":    "Inhalt oder Format der Nachricht wurden nicht angenommen.",
		"7.1":  "Das Mailsystem des Empfängers hat die Nachricht abgelehnt: Die Zustellung ist nicht erlaubt.",
		"7":    "Das Mailsystem des Empfängers hat die Nachricht aus Richtlinien- oder Sicherheitsgründen abgelehnt.",

		string(ActionFailed):    "Die Nachricht konnte nicht zugestellt werden.",
		string(ActionDelayed):   "Die Nachricht wurde noch nicht zugestellt; das Mailsystem versucht es weiter.",
		string(ActionDelivered): "Die Nachricht wurde zugestellt.",
		string(ActionRelayed):   "Die Nachricht wurde an ein Mailsystem weitergegeben, das keine Zustellbestätigungen sendet; es folgt keine weitere Nachricht.",
		string(ActionExpanded):  "Die Nachricht wurde an eine Verteileradresse zugestellt und an deren Mitglieder weitergegeben.",
	}
}

// explain says in plain words, using the table m from explanationTable,
// what status means for a recipient with action a. Failures and delays are
// explained by their status code where it is known, the others by their
// action.
func explain(m map[string]string, a Action, status string) string {
	if a == ActionFailed || a == ActionDelayed {
		_, sd, _ := strings.Cut(status, ".")
		subject, _, _ := strings.Cut(sd, ".")
		if s, ok := m[sd]; ok {
			return s
		}
		if s, ok := m[subject]; ok {
			return s
		}
	}
	return m[string(a)]
}
